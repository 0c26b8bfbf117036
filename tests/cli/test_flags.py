"""docker's (pflag's) flag forms, as darse's parser reads them."""

from __future__ import annotations

from darse.cli.flags import Parser


def parser() -> Parser:
    p = Parser(prog="darse x")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-H", "--human", action="store_true", default=True)
    p.add_argument("-t", "--time")
    p.add_argument("image")
    return p


def test_short_flags_take_an_equals_value() -> None:
    args = parser().parse_args(["-H=false", "-dt=5", "img"])
    assert (args.human, args.detach, args.time, args.image) == (False, True, "5", "img")


def test_a_bool_flag_never_eats_the_next_word() -> None:
    args = parser().parse_args(["-H", "img"])
    assert (args.human, args.image) == (True, "img")
    assert parser().parse_args(["--human=false", "--detach=true", "img"]).human is False
