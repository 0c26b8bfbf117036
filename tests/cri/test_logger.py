"""The shim's CRI log writer: the same lines whatever pieces the output arrives in."""

from __future__ import annotations

import re

from darse.shim.logger import PARTIAL_LIMIT, CriLogger


def _lines(path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_text().splitlines():
        stamp, stream, tag, text = line.split(" ", 3)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", stamp)
        out.append((stream, tag, text))
    return out


def test_long_lines_cut_the_same_in_one_write_or_many(tmp_path) -> None:
    long = b"x" * (PARTIAL_LIMIT + 100)
    one = CriLogger(str(tmp_path / "one.log"))
    one.write("stdout", long + b"\nshort\n")
    one.close()
    many = CriLogger(str(tmp_path / "many.log"))
    for i in range(0, len(long), 1000):
        many.write("stdout", long[i:i + 1000])
    many.write("stdout", b"\nshort\n")
    many.close()
    expected = [("stdout", "P", "x" * PARTIAL_LIMIT), ("stdout", "F", "x" * 100),
                ("stdout", "F", "short")]
    assert _lines(tmp_path / "one.log") == expected
    assert _lines(tmp_path / "many.log") == expected


def test_streams_apart_and_the_last_piece_at_close(tmp_path) -> None:
    log = CriLogger(str(tmp_path / "c.log"))
    log.write("stdout", b"a")
    log.write("stderr", b"err\n")
    log.write("stdout", b"b\nunfinished")
    log.close()
    assert _lines(tmp_path / "c.log") == [("stderr", "F", "err"), ("stdout", "F", "ab"),
                                          ("stdout", "F", "unfinished")]
