"""Starting darse's daemons (darsed from the CLI, darse-shim from darsed) apart from
whoever asked for them.

A daemon must not run code from the caller's working directory (`python -m` puts the
cwd first on sys.path: a `darse/` package left there by another user would run as
root), nor keep the caller's environment, directory, files or terminal. So: `python -I`
(no cwd, PYTHONPATH nor user site on sys.path) on the darse package this process runs
(the installed one, or a checkout under test: passed explicitly, never found through
the cwd), in /, with a minimal environment, stdin /dev/null, no inherited descriptor,
its own session and umask 022."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import IO

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Puts the package's folder first on sys.path, then runs the module as `python -m` does.
_BOOT = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
         "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")
# The same, calling the module's main() without runpy (and the imports it brings): for a
# daemon whose own memory counts (darse-keeper).
_MAIN = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
         "__import__(sys.argv.pop(1), fromlist=['main']).main()")


def package_root() -> str:
    """The folder holding the darse package this process runs."""
    import darse

    return os.path.dirname(os.path.dirname(os.path.realpath(darse.__file__)))


def command(module: str, *args: str) -> list[str]:
    """The argv running darse's `module` in an isolated interpreter, from the same
    sources as this process."""
    import sysconfig

    root = package_root()
    # The CLI's launcher runs with -S: no site, so sys.prefix is not the venv's. Ask for
    # the site folders of the interpreter's own venv (where pyvenv.cfg says there is one).
    paths = [sysconfig.get_paths()]
    venv = os.path.dirname(os.path.dirname(sys.executable))
    if os.path.exists(os.path.join(venv, "pyvenv.cfg")):
        scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
        paths.append(sysconfig.get_paths(scheme, vars={"base": venv, "platbase": venv}))
    installed = {os.path.realpath(p[kind]) for p in paths for kind in ("purelib", "platlib")}
    if root in installed:  # -I finds it by itself, and ps shows a plain command
        return [sys.executable, "-I", "-m", module, *args]
    return [sys.executable, "-I", "-c", _BOOT, root, module, *args]


def command_main(module: str, *args: str) -> list[str]:
    """The argv calling `module.main()` in an isolated interpreter, from the same sources
    as this process, with nothing imported but what the module imports."""
    return [sys.executable, "-I", "-c", _MAIN, package_root(), module, *args]


def environment() -> dict[str, str]:
    """All a daemon needs: a PATH for the programs it runs, a UTF-8 locale."""
    return {"PATH": PATH, "LANG": "C.UTF-8"}


def spawn(module: str, args: list[str], log: IO[bytes], lean: bool = False
          ) -> subprocess.Popen:
    """Start the module as a daemon, its output appended to log; lean: its main() called
    without runpy (command_main)."""
    argv = command_main(module, *args) if lean else command(module, *args)
    return subprocess.Popen(argv, cwd="/", env=environment(),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            close_fds=True, start_new_session=True, umask=0o022)
