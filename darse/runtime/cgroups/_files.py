"""Writing one cgroup control file, with an error that names it."""

from __future__ import annotations

import os

from darse.errors import SystemFailure, Unavailable


def write(directory: str, name: str, value: object) -> None:
    path = os.path.join(directory, name)
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except FileNotFoundError:
        raise Unavailable(f"cgroups: {name} is not supported on this host") from None
    except OSError as exc:
        raise SystemFailure(f"cgroups: cannot write {value!r} to {path}: {exc.strerror}") from None


def read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()
