from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def outside() -> Iterator[Path]:
    """A host folder outside the roots under test, holding one file: what no write may
    reach. Removed after the test."""
    path = Path(tempfile.mkdtemp(prefix="darse-victim-"))
    (path / "file").write_text("HOST\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)
