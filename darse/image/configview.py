"""An image's Config and ContainerConfig as dockerd's image inspect shows them: its
container config with every field Go's encoder always writes (those without omitempty)
present, zero or null when the image's JSON left them out. Clients index them
(docker-py's tests read Config['OnBuild'] of a built image)."""

from __future__ import annotations

from typing import Any

# In dockerd's order; the omitempty fields (ExposedPorts, Healthcheck, ArgsEscaped,
# NetworkDisabled, MacAddress, StopSignal, StopTimeout, Shell) only when set.
ALWAYS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
    ("AttachStdout", False), ("AttachStderr", False), ("Tty", False), ("OpenStdin", False),
    ("StdinOnce", False), ("Env", None), ("Cmd", None), ("Image", ""), ("Volumes", None),
    ("WorkingDir", ""), ("Entrypoint", None), ("OnBuild", None), ("Labels", None))


def shown(config: dict[str, Any] | None) -> dict[str, Any]:
    """config with dockerd's always-present fields filled in (a new dict)."""
    out = {key: (config or {}).get(key, default) for key, default in ALWAYS}
    for key, value in (config or {}).items():
        if key not in out:
            out[key] = value
    return out
