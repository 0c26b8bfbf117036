"""darse's OCI runtime: config.json in, a running container out.

A library (the engine forks containers in-process) and, through darse.runtime.cli, the
runc-compatible command darse-runtime. The lifecycle reads as modules, each exporting the
function of its name: create.create, start.start, kill.kill, delete.delete,
exec.exec_in, pause.pause/resume. This package imports nothing itself, so that a
command pays only for the modules it uses.
"""
