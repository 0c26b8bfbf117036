"""darse: Docker's command line, as a thin client of darsed's Engine API.

It imports no engine code: a command costs the interpreter, darse.cli.flags, darse.cli.http and
its own module. Commands are looked up by name (and by docker's management form,
`darse container ls`), so only one command module is imported.
"""

from __future__ import annotations

import sys

from darse.cli.client import APIError, Client
from darse.cli.flags import Parser

__all__ = ["Parser", "main", "entry"]

# command -> (module, function)
COMMANDS = {
    "run": ("container", "run"), "create": ("container", "create"),
    "start": ("lifecycle", "start"), "stop": ("lifecycle", "stop"),
    "restart": ("lifecycle", "restart"), "kill": ("lifecycle", "kill"),
    "rm": ("lifecycle", "rm"), "ps": ("ps", "ps"), "logs": ("container", "logs"),
    "exec": ("container", "exec_"), "wait": ("lifecycle", "wait"),
    "attach": ("container", "attach"), "top": ("container", "top"),
    "rename": ("lifecycle", "rename"), "pause": ("lifecycle", "pause"),
    "unpause": ("lifecycle", "unpause"), "export": ("container", "export"),
    "port": ("container", "port"), "cp": ("cp", "cp"),
    "diff": ("changes", "diff"), "commit": ("changes", "commit"),
    "update": ("resources", "update"), "stats": ("resources", "stats"),
    "images": ("image", "images"), "pull": ("image", "pull"), "push": ("image", "push"),
    "tag": ("image", "tag"), "rmi": ("image", "rmi"), "history": ("image", "history"),
    "save": ("image", "save"), "load": ("image", "load"), "import": ("image", "import_"),
    "build": ("build", "build"), "search": ("search", "search"),
    "login": ("system", "login"), "logout": ("system", "logout"),
    "version": ("system", "version"), "info": ("system", "info"),
    "inspect": ("system", "inspect"), "events": ("system", "events"),
}
MANAGEMENT = {
    "container": {"ls": ("ps", "ps"), "list": ("ps", "ps"), "ps": ("ps", "ps"),
                  "prune": ("lifecycle", "prune"), "inspect": ("container", "inspect"),
                  "cp": ("cp", "cp"), "diff": ("changes", "diff"),
                  "commit": ("changes", "commit"), "update": ("resources", "update"),
                  "stats": ("resources", "stats"),
                  **{k: v for k, v in COMMANDS.items() if v[0] in ("container", "lifecycle")}},
    "image": {"ls": ("image", "images"), "list": ("image", "images"),
              "prune": ("image", "prune"), "inspect": ("image", "inspect"),
              "rm": ("image", "rmi"), "build": ("build", "build"),
              **{k: v for k, v in COMMANDS.items() if v[0] == "image"}},
    "system": {"info": ("system", "info"), "events": ("system", "events"),
               "df": ("system", "df"), "prune": ("system", "prune")},
    "network": {"ls": ("network", "ls"), "list": ("network", "ls"),
                "inspect": ("network", "inspect"), "create": ("network", "create"),
                "rm": ("network", "rm"), "remove": ("network", "rm"),
                "connect": ("network", "connect"), "disconnect": ("network", "disconnect"),
                "prune": ("network", "prune")},
    "volume": {"create": ("volume", "create"), "ls": ("volume", "ls"), "list": ("volume", "ls"),
               "inspect": ("volume", "inspect"), "rm": ("volume", "rm"),
               "remove": ("volume", "rm"), "prune": ("volume", "prune")},
    "registry": {"serve": ("registry", "serve"), "gc": ("registry", "gc")},
    "builder": {"prune": ("builder", "prune"), "build": ("build", "build")},
}
USAGE = """Usage:  darse [OPTIONS] COMMAND

A container engine that speaks Docker's language

Common Commands:
  run         Create and run a new container from an image
  build       Build an image from a Dockerfile
  exec        Execute a command in a running container
  ps          List containers
  images      List images
  pull        Download an image from a registry
  push        Upload an image to a registry
  login       Log in to a registry
  logout      Log out from a registry
  version     Show the darse version information
  info        Display system-wide information

Management Commands:
  builder     Manage builds
  container   Manage containers
  image       Manage images
  network     Manage networks
  system      Manage darse
  volume      Manage volumes
  registry    Serve a registry (OCI distribution spec), collect its garbage

Commands:
  attach commit cp create diff events export history import inspect kill load logs pause port
  rename restart rm rmi save search start stats stop tag top unpause update wait

Global Options:
  -H, --host string   Daemon socket to connect to (default unix:///run/darse.sock)
  -v, --version       Print version information and quit
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    host = None
    while argv and argv[0].startswith("-"):
        opt = argv.pop(0)
        if opt in ("-H", "--host") and argv:
            host = argv.pop(0)
        elif opt.startswith("--host="):
            host = opt.split("=", 1)[1]
        elif opt in ("-v", "--version"):
            from darse import __version__

            print(f"darse version {__version__}")
            return 0
        elif opt in ("-h", "--help"):
            print(USAGE)
            return 0
        elif opt in ("-D", "--debug"):
            continue
        else:
            print(f"unknown flag: {opt}\nSee 'darse --help'.", file=sys.stderr)
            return 125
    if not argv:
        print(USAGE)
        return 0
    name = argv.pop(0)
    target = COMMANDS.get(name)
    if name in MANAGEMENT:
        if not argv or argv[0] in ("-h", "--help"):
            print(f"Usage:  darse {name} COMMAND\n\nCommands:\n  " +
                  "\n  ".join(sorted(MANAGEMENT[name])))
            return 0
        sub = argv.pop(0)
        target = MANAGEMENT[name].get(sub)
        name = f"{name} {sub}"
    if target is None:
        print(f"darse: '{name}' is not a darse command.\nSee 'darse --help'", file=sys.stderr)
        return 1
    # __import__ rather than importlib: importlib's own imports cost half a millisecond.
    module = __import__(f"darse.cli.commands.{target[0]}", fromlist=["_"])
    client = Client(host)
    try:
        return getattr(module, target[1])(client, argv) or 0
    except APIError as exc:
        print(exc.shown, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except ConnectionError as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_closed():
            raise  # our reader went: entry() ends quietly, as docker's CLI does
        # The daemon went mid-stream (killed, restarted): docker's CLI says the same.
        print("unexpected EOF", file=sys.stderr)
        return 1


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        _stdout_gone()
        raise
    # What is left is Python's own shutdown (module teardown, collection: 2 ms of every
    # command); the command has closed what it opened and its output is out.
    import posix

    posix._exit(code)


def _stdout_closed() -> bool:
    import select

    poller = select.poll()
    poller.register(1, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _stdout_gone() -> None:
    """The reader of our output went (`darse ps | head`): end as docker's CLI does there,
    killed by SIGPIPE without a word. A broken pipe elsewhere (the daemon's socket) is an
    error like any other."""
    if not _stdout_closed():
        return
    import _signal
    import posix

    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    posix.kill(posix.getpid(), _signal.SIGPIPE)
