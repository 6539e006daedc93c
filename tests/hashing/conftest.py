"""Shared fixtures for hashing tests: the conformance data, read in place (never copied)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """``$TESSERA_SHARED`` if set, else the ``shared`` folder beside the repository."""
    env = os.environ.get("TESSERA_SHARED")
    return Path(env) if env else REPO_ROOT.parent / "shared"


PDQ_DIR = shared_dir() / "conformance" / "pdq"


def pdq_rows() -> list[dict[str, str]]:
    path = PDQ_DIR / "expected.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def pdq_dir() -> Path:
    if not (PDQ_DIR / "expected.csv").is_file():
        pytest.skip(f"PDQ conformance data not found at {PDQ_DIR} (set TESSERA_SHARED)")
    return PDQ_DIR
