"""Output files written whole or not at all: a report's or an export's files are streamed row by
row (a corpus does not fit in memory), so each goes to a temporary name beside its place and
replaces the file there only when everything was written. A run that fails midway leaves the
previous file (or none), never half of a new one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def part_path(path: Path) -> Path:
    """Where ``path`` is written until it is complete."""
    return path.with_name(f".{path.name}.part")


@contextmanager
def replacing(path: Path, *, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text file to write; it becomes ``path`` when the block ends without an error, and
    is removed when it ends with one."""
    tmp = part_path(path)
    fh = tmp.open("w", encoding="utf-8", newline=newline)
    try:
        yield fh
    except BaseException:
        fh.close()
        tmp.unlink(missing_ok=True)
        raise
    fh.close()
    tmp.replace(path)
