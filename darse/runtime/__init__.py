"""darse's OCI runtime: config.json in, a running container out.

A library (the engine forks containers in-process) and, through darse.runtime.cli, the
runc-compatible command darse-runtime. The lifecycle reads as modules: create, start,
kill, delete, exec, pause.
"""

from darse.runtime.create import create
from darse.runtime.delete import delete
from darse.runtime.exec import exec_in
from darse.runtime.kill import kill, parse_signal
from darse.runtime.pause import pause, resume
from darse.runtime.start import start
from darse.runtime.state import DEFAULT_ROOT, ContainerState

__all__ = ["DEFAULT_ROOT", "ContainerState", "create", "delete", "exec_in", "kill", "parse_signal",
           "pause", "resume", "start"]
