"""OCI hooks (config.md, "POSIX-platform Hooks"): run with the state on stdin."""

from __future__ import annotations

import json
import sys

from darse.errors import SystemFailure

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any


def run(config: dict, kind: str, oci_state: dict[str, Any], *, fatal: bool = True) -> None:
    """Run every hook of one kind in order; the first failure stops the rest if fatal,
    and is only reported (spec: poststart, poststop) otherwise."""
    entries = (config.get("hooks") or {}).get(kind) or []
    if not entries:
        return
    import subprocess  # only when there are hooks: it costs every container start

    payload = json.dumps(oci_state).encode()
    for i, hook in enumerate(entries):
        args = hook.get("args") or [hook["path"]]
        env = dict(e.split("=", 1) for e in hook.get("env") or [])
        try:
            done = subprocess.run(args, executable=hook["path"], input=payload, env=env,
                                  capture_output=True, timeout=hook.get("timeout"), check=False)
            error = None if done.returncode == 0 else (
                f"exit status {done.returncode}, stdout: {done.stdout.decode(errors='replace')}"
                f", stderr: {done.stderr.decode(errors='replace')}")
        except subprocess.TimeoutExpired:
            error = f"timed out after {hook['timeout']}s"
        except OSError as exc:
            error = exc.strerror or str(exc)
        if error is not None:
            message = f"error running {kind} hook #{i}: {error}"
            if fatal:
                raise SystemFailure(message)
            print(f"darse-runtime: warning: {message}", file=sys.stderr)
