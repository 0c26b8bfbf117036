"""Go text/template, as --format takes it."""

from __future__ import annotations

import pytest

from darse.cli.template import Template
from darse.errors import InvalidArgument

DATA = {"Name": "/c1", "State": {"Running": True, "ExitCode": 0}, "Env": ["A=1", "B=2"],
        "Labels": {"b": "2", "a": "1"}, "Mounts": [], "Nil": None}


@pytest.mark.parametrize(("text", "expected"), [
    ("{{.Name}}", "/c1"),
    ("{{.State.Running}} {{.State.ExitCode}}", "true 0"),
    ("{{json .Env}}", '["A=1","B=2"]'),
    ("{{.Env}}", "[A=1 B=2]"),
    ("{{.Labels}}", "map[a:1 b:2]"),
    ("{{.Mounts}}", "[]"),
    ("{{.Nil}}", "<no value>"),
    ("{{join .Env \",\"}}", "A=1,B=2"),
    ("{{index .Labels \"a\"}}", "1"),
    ("{{range .Env}}<{{.}}>{{end}}", "<A=1><B=2>"),
    ("{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}", "a=1 b=2 "),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if not .State.Running}}up{{else if .Name}}named{{else}}x{{end}}", "named"),
    ("{{with .State}}{{.ExitCode}}{{end}}", "0"),
    ("{{.Name | upper}}", "/C1"),
    ("{{upper .Name}}", "/C1"),
    ("{{- .Name -}}  ", "/c1"),
    ("{{printf \"%s!\" .Name}}", "/c1!"),
    ("{{len .Env}}", "2"),
])
def test_render(text: str, expected: str) -> None:
    assert Template(text).render(DATA) == expected


def test_errors() -> None:
    with pytest.raises(InvalidArgument, match='function "nosuch" not defined'):
        Template("{{nosuch .Name}}").render(DATA)
    with pytest.raises(InvalidArgument, match="unexpected EOF"):
        Template("{{if .Name}}x")
