"""Which case a command uses when it names none: the command line's root ``--case``, else $TESSERA_CASE.

The root option (``tessera --case DIR CMD``) is kept here for the invocation that gave it, not written
to $TESSERA_CASE: a program that runs several commands in its own process (tests, scripts through
``tessera.cli.app``) must not have a later command open an earlier one's case. No imports beyond the
standard library: the command line sets it before it knows whether the command needs a database.
"""

from __future__ import annotations

import os
from pathlib import Path

_root_case: list[Path | None] = [None]


def set_root_case(path: Path | None) -> None:
    """The root ``--case`` of the command line now running (None when it gave none)."""
    _root_case[0] = path


def default_case_dir() -> Path | None:
    if _root_case[0] is not None:
        return _root_case[0]
    value = os.environ.get("TESSERA_CASE")
    return Path(value) if value else None
