"""Flag value types as the docker CLI's pflag parses them, with its words for a bad value
(each converter raises ValueError carrying `flag_detail`, which the parser prints after
`invalid argument "V" for "-x, --flag" flag:`)."""

from __future__ import annotations

_INT64 = (-(1 << 63), (1 << 63) - 1)


def _fail(detail: str) -> ValueError:
    exc = ValueError(detail)
    exc.flag_detail = detail  # type: ignore[attr-defined]
    return exc


def _go_int(text: str, func: str, signed: bool, base: int = 0) -> int:
    """strconv.Parse(U)Int(s, 0, bits)'s grammar: a sign (signed only), 0x/0o/0b or a
    leading 0 for octal, underscores between digits with a prefix."""
    s = text
    neg = False
    if signed and s[:1] in ("+", "-"):
        neg, s = s[0] == "-", s[1:]
    if base == 0 and len(s) > 1 and s[0] == "0":
        prefixes = {"x": 16, "o": 8, "b": 2}
        if s[1].lower() in prefixes:
            base, s = prefixes[s[1].lower()], s[2:]
        else:
            base, s = 8, s[1:]
    base = base or 10
    try:
        if not s or not all(c.isalnum() for c in s):
            raise ValueError
        value = int(s, base)
    except ValueError:
        raise _fail(f'{func}: parsing "{text}": invalid syntax') from None
    return -value if neg else value


def int64(text: str) -> int:
    value = _go_int(text, "strconv.ParseInt", True)
    if not _INT64[0] <= value <= _INT64[1]:
        raise _fail(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def uint16(text: str, base: int = 0) -> int:
    value = _go_int(text, "strconv.ParseUint", False, base)
    if value > 0xFFFF:
        raise _fail(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def nano_cpus(text: str) -> int:
    """--cpus: a rational number of CPUs, in billionths (the CLI's NanoCPUs)."""
    from fractions import Fraction

    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise _fail(f"failed to parse {text} as a rational number") from None
    nano = value * 10**9
    if nano.denominator != 1:
        raise _fail("value is too precise")
    return _wrap64(int(nano))


_RAM_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_bytes(text: str) -> int:
    """go-units' RAMInBytes: digits (with dotted parts), an optional space, an optional
    binary unit (k, m, g, t, p) then optional i and b; anything else, a sign included,
    is an invalid size."""
    t = text.lower()
    i = 0
    while i < len(t) and t[i].isdigit():
        i += 1
    ok = i > 0
    while ok and i < len(t) and t[i] == ".":
        j = i + 1
        while j < len(t) and t[j].isdigit():
            j += 1
        ok, i = j > i + 1, j
    number, rest = t[:i], t[i:].removeprefix(" ")
    unit = rest[0] if rest[:1] and rest[0] in _RAM_UNITS else ""
    rest = rest[len(unit):].removeprefix("i").removeprefix("b")
    if not ok or rest:
        raise _fail(f"invalid size: '{text}'")
    try:
        size = float(number)
    except ValueError:  # "1.2.3": the pattern's, not a number
        raise _fail(f'strconv.ParseFloat: parsing "{number}": invalid syntax') from None
    return _wrap64(int(size * _RAM_UNITS.get(unit, 1)))


def ram_or_unlimited(text: str) -> int:
    """--memory-swap: a size, or -1 for unlimited swap."""
    return -1 if text == "-1" else ram_bytes(text)


def _wrap64(value: int) -> int:
    """Go's conversion of a too large float to int64 on amd64 gives its minimum."""
    return value if _INT64[0] <= value <= _INT64[1] else _INT64[0]


def ip_address(text: str) -> str:
    """--dns: an IP address, normalised (opts.ValidateIPAddress)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise _fail(f"{text} is not an ip address") from None


def add_host(text: str) -> str:
    """--add-host NAME:IP (or NAME:host-gateway); the IP after the first colon."""
    import ipaddress

    name, sep, ip = text.partition(":")
    if not sep or not name:
        raise _fail(f'bad format for add-host: "{text}"')
    if ip != "host-gateway":
        try:
            ipaddress.ip_address(ip.strip())
        except ValueError:
            raise _fail(f'invalid IP address in add-host: "{ip}"') from None
    return text


def attach_stream(text: str) -> str:
    stream = text.lower()
    if stream not in ("stdin", "stdout", "stderr"):
        raise _fail("valid streams are STDIN, STDOUT and STDERR")
    return stream


def dns_search(text: str) -> str:
    """A search domain: labels of letters, digits and inner hyphens, one letter at least,
    or "." (opts.ValidateDNSSearch)."""
    value = text.strip(" ")
    if value == ".":
        return value
    labels = value.split(".")
    good = (any(c.isascii() and c.isalpha() for c in value) and len(value) <= 255 and all(
        label and label[0] != "-" and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels))
    if not good:
        raise _fail(f"{value} is not a valid domain")
    return value


def env(text: str) -> str:
    """-e KEY[=VALUE]: a name is needed (opts.ValidateEnv)."""
    if not text.partition("=")[0]:
        raise _fail(f"invalid environment variable: {text}")
    return text


_OSES = {"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
         "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos", "macos"}
_ARCHES = {"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
           "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
           "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm", "i386", "x86_64",
           "x86-64", "aarch64", "armhf", "armel"}


def platform_problem(text: str) -> str | None:
    """What containerd's platforms.Parse says of a --platform, or None: a lone word must
    be a known OS or architecture; os/arch[/variant] is taken as it is."""
    parts = text.split("/")
    for part in parts:
        if not part or not all(c.isascii() and (c.isalnum() or c in "_-") for c in part):
            return (f'error parsing specified platform: "{part}" is an invalid component of '
                    f'"{text}": platform specifier component must match '
                    '"^[A-Za-z0-9_-]+$": invalid argument')
    if len(parts) > 3:
        return f'error parsing specified platform: "{text}": cannot parse platform ' \
               'specifier: invalid argument'
    if len(parts) == 1 and parts[0].lower() not in _OSES | _ARCHES:
        return (f'error parsing specified platform: "{text}": unknown operating system or '
                "architecture: invalid argument")
    return None
