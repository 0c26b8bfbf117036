"""Docker's flag grammar (spf13/pflag as the docker CLI uses it), small enough to load
in no time: importing argparse costs 13 ms here, more than the whole of `docker ps`
(bench/engine.py), and it parses differently from docker anyway.

--flag value, --flag=value, -f value, -fvalue, combined booleans (-qa, -ti), repeated
flags, `--` ends flags; flags may follow positionals (`rm c1 -f`) until a positional
that takes the rest (`run IMAGE CMD...`). Usage errors print docker's words and exit 125.
"""

from __future__ import annotations

import sys

REMAINDER = "..."

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Namespace:
    def __repr__(self) -> str:
        return f"Namespace({vars(self)})"


class _Opt:
    def __init__(self, names: tuple[str, ...], dest: str, action: str | None, default: Any,
                 type: Callable[[str], Any] | None, choices: tuple | None) -> None:
        self.names, self.dest, self.action = names, dest, action
        self.default, self.type, self.choices = default, type, choices

    @property
    def label(self) -> str:
        return ", ".join(self.names)

    @property
    def shown(self) -> str:
        """How pflag names the flag in its errors: "-m, --memory", or "--memory"."""
        short = [n for n in self.names if len(n) == 2]
        long = max((n for n in self.names if n.startswith("--")), key=len, default="")
        return f"{short[0]}, {long}" if short and long else long or short[0]


class Parser:
    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.options: dict[str, _Opt] = {}
        self.all: list[_Opt] = []
        self.positionals: list[tuple[str, str | None]] = []  # (dest, nargs)
        self.metavars: dict[str, str] = {}  # dest -> its name in the usage line
        self.add_argument("--help", action="help")

    def add_argument(self, *names: str, action: str | None = None, default: Any = None,
                     type: Callable[[str], Any] | None = None, choices: tuple | None = None,
                     dest: str | None = None, nargs: str | None = None,
                     metavar: str | None = None, help: str | None = None) -> None:
        if not names[0].startswith("-"):
            self.positionals.append((names[0], nargs))
            if metavar:
                self.metavars[names[0]] = metavar
            return
        longest = max(names, key=len).lstrip("-")
        opt = _Opt(names, dest or longest.replace("-", "_"), action, default, type,
                   tuple(choices) if choices else None)
        for name in names:
            self.options[name] = opt
        self.all.append(opt)

    def error(self, message: str) -> None:
        print(f"{message}\nSee '{self.prog} --help'.", file=sys.stderr)
        sys.exit(125)

    def usage(self) -> None:
        print(f"Usage:  {self.prog} {self.synopsis()}\n\nOptions:")
        for opt in sorted(self.all, key=lambda o: max(o.names, key=len).lstrip("-")):
            if opt.action == "help":
                continue
            short = next((n for n in opt.names if len(n) == 2), None)
            long = next((n for n in opt.names if n.startswith("--")), short)
            print(f"  {short + ', ' if short else '    '}{long}{self._kind(opt)}")
        sys.exit(0)

    @staticmethod
    def _kind(opt: _Opt) -> str:
        """pflag's name for the value a flag takes, as docker's help shows it."""
        if opt.action in ("store_true", "help"):
            return ""
        if opt.action == "append":
            return " list"
        name = getattr(opt.type, "__name__", "")
        return {"int64": " int", "uint16": " uint16", "ram_bytes": " bytes",
                "ram_or_unlimited": " bytes", "nano_cpus": " decimal",
                "go_duration": " duration"}.get(name, " string")

    def _store(self, ns: Namespace, opt: _Opt, value: str, shown: str) -> None:
        if opt.type is not None:
            try:
                value = opt.type(value)
            except ValueError as exc:
                detail = getattr(exc, "flag_detail", "")  # the docker CLI's parser's words
                self.error(f'invalid argument "{value}" for "{opt.shown}" flag'
                           + (f": {detail}" if detail else ""))
        if opt.choices and value not in opt.choices:
            self.error(f'invalid argument "{value}" for "{opt.shown}" flag: must be one of '
                       f"{', '.join(map(str, opt.choices))}")
        if opt.action == "append":
            getattr(ns, opt.dest).append(value)
        else:
            setattr(ns, opt.dest, value)

    def parse_args(self, argv: list[str]) -> Namespace:
        ns = Namespace()
        for opt in self.all:
            if opt.action == "store_true":
                setattr(ns, opt.dest, bool(opt.default))
            elif opt.action == "append":
                setattr(ns, opt.dest, list(opt.default or []))
            else:
                setattr(ns, opt.dest, opt.default)
        values: list[str] = []
        rest: list[str] = []
        takes_rest = [i for i, (_, n) in enumerate(self.positionals) if n == REMAINDER]
        stop_at = takes_rest[0] if takes_rest else None
        i = 0
        while i < len(argv):
            arg = argv[i]
            if stop_at is not None and len(values) >= stop_at:
                rest = argv[i:]
                break
            if arg == "--":
                values += argv[i + 1:]
                break
            if arg.startswith("--"):
                name, eq, value = arg.partition("=")
                opt = self.options.get(name)
                if opt is None:
                    self.error(f"unknown flag: {name}")
                if opt.action == "help":
                    self.usage()
                if opt.action == "store_true":
                    setattr(ns, opt.dest, value.lower() not in ("false", "0") if eq else True)
                else:
                    if not eq:
                        i += 1
                        if i >= len(argv):
                            self.error(f"flag needs an argument: {name}")
                        value = argv[i]
                    self._store(ns, opt, value, name)
            elif arg.startswith("-") and len(arg) > 1:
                for j, char in enumerate(arg[1:], 1):
                    opt = self.options.get("-" + char)
                    if opt is None:
                        self.error(f"unknown shorthand flag: '{char}' in {arg}")
                    if opt.action == "help":
                        self.usage()
                    if arg[j + 1:j + 2] == "=":  # pflag's -d=false, -t=5: the rest is the value
                        value = arg[j + 2:]
                        if opt.action == "store_true":
                            setattr(ns, opt.dest, value.lower() not in ("false", "0"))
                        else:
                            self._store(ns, opt, value, "-" + char)
                        break
                    if opt.action == "store_true":
                        setattr(ns, opt.dest, True)
                        continue
                    value = arg[j + 1:]
                    if not value:
                        i += 1
                        if i >= len(argv):
                            self.error(f"flag needs an argument: '{char}' in -{char}")
                        value = argv[i]
                    self._store(ns, opt, value, "-" + char)
                    break
            else:
                values.append(arg)
            i += 1
        self._assign(ns, values, rest)
        return ns

    def _assign(self, ns: Namespace, values: list[str], rest: list[str]) -> None:
        self._check_count(len(values) + len(rest))
        for index, (dest, nargs) in enumerate(self.positionals):
            if nargs == REMAINDER:
                setattr(ns, dest, values + rest)
                values = []
            elif nargs == "?":
                setattr(ns, dest, values.pop(0) if values else None)
            elif nargs == "*":
                setattr(ns, dest, values)
                values = []
            elif nargs == "+":
                later = sum(1 for _, n in self.positionals[index + 1:] if n is None)
                take = len(values) - later
                setattr(ns, dest, values[:take])
                values = values[take:]
            else:
                setattr(ns, dest, values.pop(0))

    def _check_count(self, given: int) -> None:
        """cobra's argument counts, in its words: no arguments, exactly N, at least N,
        N to M; then the usage line, status 1."""
        fixed = sum(1 for _, n in self.positionals if n is None)
        # a REMAINDER whose usage name is not [bracketed] needs one word at least (exec)
        least = fixed + sum(1 for d, n in self.positionals if n == "+" or (
            n == REMAINDER and not self.metavars.get(d, "[").startswith("[")))
        optional = sum(1 for _, n in self.positionals if n == "?")
        unbounded = any(n in ("+", "*", REMAINDER) for _, n in self.positionals)
        plural = "s" if least != 1 else ""
        if not self.positionals and given:
            message = f'"{self.prog}" accepts no arguments.'
        elif not unbounded and not optional and given != least:
            message = f'"{self.prog}" requires exactly {least} argument{plural}.'
        elif not unbounded and optional and not least <= given <= least + optional:
            most = least + optional
            message = (f'"{self.prog}" requires at least {least} and at most {most} '
                       "arguments." if least else f'"{self.prog}" requires at most {most} '
                       f'argument{"s" if most != 1 else ""}.')
        elif unbounded and given < least:
            message = f'"{self.prog}" requires at least {least} argument{plural}.'
        else:
            return
        print(f"{message}\nSee '{self.prog} --help'.\n\nUsage:  {self.prog} "
              f"{self.synopsis()}", file=sys.stderr)
        sys.exit(1)

    def synopsis(self) -> str:
        """[OPTIONS] CONTAINER [CONTAINER...], from the positionals."""
        words = ["[OPTIONS]"] if len(self.all) > 1 else []
        for dest, nargs in self.positionals:
            if dest in self.metavars:
                m = self.metavars[dest]
                words.append(f"{m} [{m}...]" if nargs == "+" else m)
                continue
            name = dest.upper()
            if nargs == "+":
                one = name[:-1] if name.endswith("S") else name
                words.append(f"{one} [{one}...]")
            elif nargs == "?":
                words.append(f"[{name}]")
            elif nargs in ("*", REMAINDER):
                words.append(f"[{name}...]")
            else:
                words.append(name)
        return " ".join(words)
