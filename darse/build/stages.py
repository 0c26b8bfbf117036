"""A Dockerfile's stages: the ARGs before the first FROM, each `FROM image [AS name]`
with the instructions under it, and the stages a target needs (the target, the stages it
is built FROM and those it copies --from, recursively), in file order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from darse.build import words
from darse.build.dockerfile import Instruction
from darse.errors import InvalidArgument

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


@dataclass
class Stage:
    index: int
    name: str  # lowercased; "" when the FROM has no AS
    source: Instruction  # the FROM
    instructions: list[Instruction] = field(default_factory=list)
    base: str = ""  # the FROM's image, meta ARGs expanded
    deps: set[int] = field(default_factory=set)


@dataclass
class Plan:
    meta_args: list[Instruction]
    stages: list[Stage]
    meta: dict[str, str]  # the meta ARGs' values (build args applied)
    wanted: list[Stage]  # the stages the target needs, in file order

    def steps(self) -> int:
        return len(self.meta_args) + sum(1 + len(s.instructions) for s in self.wanted)

    def stage(self, ref: str, before: int) -> Stage | None:
        """The stage `--from=` or FROM names (a name or an index), if one is."""
        ref = ref.lower()
        if ref.isdigit():
            i = int(ref)
            if i >= before:
                raise InvalidArgument(f"invalid from flag value {ref}: refers to current "
                                      "build stage" if i == before else
                                      f"invalid from flag value {ref}: stage not defined")
            return self.stages[i]
        return next((s for s in self.stages[:before] if s.name and s.name == ref), None)


def meta_arg(ins: Instruction, env: dict[str, str]) -> tuple[str, str | None]:
    """An ARG's name and default (None when it has none), the default expanded."""
    text = ins.rest.strip()
    name, eq, default = text.partition("=")
    if not name:
        raise ins.error("ARG names can not be blank")
    if " " in text.split("=", 1)[0] or (not eq and len(text.split()) != 1):
        raise ins.error("ARG requires exactly one argument")
    return name, words.word(default, env, ins.escape) if eq else None


def plan(instructions: list[Instruction], build_args: dict[str, str],
         target: str = "") -> Plan:
    """The stages and what the target needs; every error the file holds that does not
    need a build to be found (dockerd answers them before streaming)."""
    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            stages.append(_stage(ins, len(stages), stages))
        elif not stages:
            if ins.cmd != "ARG":
                raise InvalidArgument("Please provide a source image with `from` prior to "
                                      "commit")
            meta_args.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise InvalidArgument("failed to process \"FROM\": no build stage in current context")
    meta: dict[str, str] = {}
    for ins in meta_args:
        name, default = meta_arg(ins, meta)
        value = build_args.get(name, default)
        if value is not None:
            meta[name] = value
    for ins in (i for s in stages for i in s.instructions if i.cmd == "ARG"):
        meta_arg(ins, {})  # a malformed ARG anywhere fails the parse
    result = Plan(meta_args, stages, meta, [])
    last = len(stages) - 1
    if target:
        found = [s for s in stages if s.name == target.lower()]
        if not found:
            raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")
        last = found[0].index
    for stage in stages[:last + 1]:
        stage.base = words.word(stage.source.rest.split()[0], meta, stage.source.escape)
        base = result.stage(stage.base, stage.index) if not stage.base.isdigit() else None
        if base is not None:
            stage.deps.add(base.index)
        for ins in stage.instructions:
            refs = [ins.flags["from"]] if ins.cmd in ("COPY", "ADD") and \
                ins.flags.get("from") else []
            if ins.cmd == "RUN":  # RUN --mount=...,from=STAGE
                refs += [item.split("=", 1)[1] for spec in
                         ins.flags.get("mount", "").split("\n")
                         for item in spec.split(",") if item.startswith("from=")]
            for ref in refs:
                dep = result.stage(ref, stage.index)
                if dep is not None:
                    stage.deps.add(dep.index)
    need = {last}
    for stage in reversed(stages[:last + 1]):
        if stage.index in need:
            need |= stage.deps
    result.wanted = [s for s in stages if s.index in need]
    return result


def _stage(ins: Instruction, index: int, stages: list[Stage]) -> Stage:
    args = ins.rest.split()
    if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
        raise ins.error("FROM requires either one or three arguments")
    name = ""
    if len(args) == 3:
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise ins.error(f"invalid name for build stage: \"{args[2]}\", name can't start "
                            "with a number or contain symbols")
        if any(s.name == name for s in stages):
            raise InvalidArgument(f"{name} stage name already used")
    return Stage(index, name, ins)
