"""The instructions that change only the image config (ENV, LABEL, CMD, HEALTHCHECK,
SHELL...), applied as Docker's classic builder applies them, each with the text its
history line shows ("ENV A=1", `CMD ["/bin/sh" "-c" "x"]`)."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from darse.build import words
from darse.build.dockerfile import Instruction
from darse.errors import InvalidArgument

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]


def go_quote(items: list[str]) -> str:
    """A list as Go's %q prints it: ["a" "b"]."""
    return "[" + " ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"


def shell_of(cfg: dict[str, Any]) -> list[str]:
    return list(cfg.get("Shell") or DEFAULT_SHELL)


def command(ins: Instruction, cfg: dict[str, Any]) -> list[str]:
    """CMD/ENTRYPOINT/RUN's command: the exec form's list, or the shell form under the
    stage's SHELL."""
    exec_form = ins.json
    if exec_form is not None:
        return exec_form
    if ins.heredocs:
        text = ins.rest.strip()
        if len(ins.heredocs) == 1 and text.startswith("<<") and " " not in text:
            return [*shell_of(cfg), ins.heredocs[0].content]  # RUN <<EOF: the script
        # The shell reads the here-documents itself: the text as written.
        script = ins.rest + "\n" + "".join(f"{h.content}{h.name}\n" for h in ins.heredocs)
        return [*shell_of(cfg), script.rstrip("\n")]
    return [*shell_of(cfg), ins.rest]


def pairs(ins: Instruction, env: dict[str, str]) -> list[tuple[str, str]]:
    """ENV/LABEL's key=value pairs (or the legacy `KEY value`), each side expanded with
    the variables as they were before the instruction."""
    raw = words.raw_words(ins.rest)
    if raw and "=" not in raw[0]:
        if len(raw) < 2:
            raise ins.error(f"{ins.cmd} must have two arguments")
        key = words.word(raw[0], env, ins.escape)
        value = ins.rest.strip()[len(raw[0]):].strip()
        return [(key, words.word(value, env, ins.escape))]
    out = []
    for item in raw:
        if "=" not in item:
            raise ins.error(f"Syntax error - can't find = in \"{item}\". Must be of the "
                            "form: name=value")
        key, value = item.split("=", 1)
        if not key:
            raise ins.error(f"{ins.cmd} names can not be blank")
        out.append((words.word(key, env, ins.escape), words.word(value, env, ins.escape)))
    return out


def set_env(cfg: dict[str, Any], key: str, value: str) -> None:
    env = list(cfg.get("Env") or [])
    for i, item in enumerate(env):
        if item.split("=", 1)[0] == key:
            env[i] = f"{key}={value}"
            break
    else:
        env.append(f"{key}={value}")
    cfg["Env"] = env


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(text: str, flag: str) -> int:
    """Go's time.ParseDuration, in nanoseconds."""
    if text in ("", "0"):
        return 0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m:
            raise InvalidArgument(f"time: invalid duration \"{text}\"")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    ns = int(total)
    if 0 < ns < 1_000_000:
        raise InvalidArgument(f"{flag} cannot be less than 1ms")
    return ns


def go_duration(ns: int) -> str:
    """Go's Duration.String()."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{ns / size:g}{unit}"
    out = ""
    hours, ns = divmod(ns, 3_600_000_000_000)
    minutes, ns = divmod(ns, 60_000_000_000)
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    seconds = ns / 1_000_000_000
    return out + (f"{seconds:.9f}".rstrip("0").rstrip(".") or "0") + "s"


def healthcheck(ins: Instruction) -> tuple[dict[str, Any], str]:
    rest = ins.rest.strip()
    word, _, cmd = rest.partition(" ")
    if word.upper() == "NONE":
        if cmd.strip() or ins.flags:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}, "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}"
    if word.upper() != "CMD":
        raise InvalidArgument(f"Unknown type \"{word.upper()}\" in HEALTHCHECK (try CMD)")
    cmd = cmd.strip()
    if not cmd:
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    exec_form = Instruction("CMD", cmd, ins.line).json
    test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", cmd]
    hc: dict[str, Any] = {"Test": test}
    durations = []
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start-period", "StartPeriod")):
        ns = parse_duration(ins.flags.get(flag, ""), f"Interval \"{flag}\"")
        if ns:
            hc[key] = ns
        durations.append(json.dumps(go_duration(ns)))
    retries = 0
    if ins.flags.get("retries"):
        try:
            retries = int(ins.flags["retries"])
        except ValueError:
            raise InvalidArgument(f"strconv.ParseInt: parsing \"{ins.flags['retries']}\": "
                                  "invalid syntax") from None
        if retries < 1:
            raise InvalidArgument("--retries cannot be 0 or negative")
        hc["Retries"] = retries
    char = f"'\\x{retries:02x}'" if retries < 32 else repr(chr(retries))
    return hc, f"HEALTHCHECK &{{{go_quote(test)} {' '.join(durations)} {char}}}"


_ONBUILD_REFUSED = {"ONBUILD": "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                    "FROM": "FROM isn't allowed as an ONBUILD trigger",
                    "MAINTAINER": "MAINTAINER isn't allowed as an ONBUILD trigger"}


def apply(ins: Instruction, cfg: dict[str, Any], env: dict[str, str], state: Any) -> str:
    """ins applied to cfg (the runtime config); the history text. state carries the
    stage's flags (cmd_set) and the image's author."""
    cmd = ins.cmd
    if cmd == "ENV":
        found = pairs(ins, env)
        for key, value in found:
            set_env(cfg, key, value)
        return "ENV " + " ".join(f"{k}={v}" for k, v in found)
    if cmd == "LABEL":
        found = pairs(ins, env)
        labels = dict(cfg.get("Labels") or {})
        labels.update(found)
        cfg["Labels"] = labels
        return "LABEL " + " ".join(f"{k}={v}" for k, v in found)
    if cmd in ("CMD", "ENTRYPOINT"):
        value = command(ins, cfg) if ins.rest.strip() else None
        cfg["Cmd" if cmd == "CMD" else "Entrypoint"] = value
        if cmd == "CMD":
            state.cmd_set = True
        elif not state.cmd_set:
            cfg["Cmd"] = None  # docker: a new ENTRYPOINT drops the inherited CMD
        return f"{cmd} {go_quote(value or [])}"
    if cmd == "EXPOSE":
        ports = words.words(ins.rest, env, ins.escape)
        exposed = dict(cfg.get("ExposedPorts") or {})
        for port in ports:
            for one in _port_range(port):
                exposed[one] = {}
        cfg["ExposedPorts"] = exposed
        return "EXPOSE " + " ".join(sorted(ports))
    if cmd == "VOLUME":
        paths = ins.json if ins.json is not None else words.words(ins.rest, env, ins.escape)
        volumes = dict(cfg.get("Volumes") or {})
        for path in paths:
            if not path.strip():
                raise InvalidArgument("VOLUME specified can not be an empty string")
            volumes[path] = {}
        cfg["Volumes"] = volumes
        return "VOLUME [" + " ".join(paths) + "]"
    if cmd == "USER":
        cfg["User"] = words.word(ins.rest, env, ins.escape)
        return f"USER {cfg['User']}"
    if cmd == "WORKDIR":
        path = words.word(ins.rest, env, ins.escape)
        cfg["WorkingDir"] = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/",
                                                              path))
        return f"WORKDIR {cfg['WorkingDir']}"
    if cmd == "STOPSIGNAL":
        cfg["StopSignal"] = words.word(ins.rest, env, ins.escape)
        return f"STOPSIGNAL {cfg['StopSignal']}"
    if cmd == "ONBUILD":
        trigger, _, rest = ins.rest.strip().partition(" ")
        if trigger.upper() in _ONBUILD_REFUSED:
            raise InvalidArgument(_ONBUILD_REFUSED[trigger.upper()])
        text = ins.rest.strip()  # docker keeps the trigger as written
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), text]
        return f"ONBUILD {text}"
    if cmd == "HEALTHCHECK":
        cfg["Healthcheck"], text = healthcheck(ins)
        return text
    if cmd == "SHELL":
        shell = ins.json
        if not shell:
            raise InvalidArgument("SHELL requires the arguments to be in JSON form")
        cfg["Shell"] = shell
        return "SHELL [" + " ".join(shell) + "]"
    if cmd == "MAINTAINER":
        state.author = ins.rest.strip()
        return f"MAINTAINER {state.author}"
    raise InvalidArgument(f"unknown instruction: {cmd}")


def _port_range(port: str) -> list[str]:
    proto = "tcp"
    if "/" in port:
        port, proto = port.split("/", 1)
    start, _, end = port.partition("-")
    try:
        first, last = int(start), int(end or start)
        if not (0 < first <= 65535 and 0 < last <= 65535) or last < first:
            raise ValueError
    except ValueError:
        raise InvalidArgument(f"Invalid containerPort: {port}") from None
    return [f"{n}/{proto.lower()}" for n in range(first, last + 1)]
