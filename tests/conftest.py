"""Shared fixtures: a case on SQLite and on the real PostgreSQL server, and the shared conformance data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tessera.store.case import CaseHandle, init_case

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("TESSERA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def shared_dir() -> Path:
    return Path(os.environ.get("TESSERA_SHARED", REPO.parent / "shared"))


def _pg_available() -> bool:
    try:
        with create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    ok = _pg_available()
    if not ok and os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; CI must test the store on it")
    return ok


@pytest.fixture
def pg_url(pg_ok: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not pg_ok:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    name = f"tessera_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None means the SQLite default inside the case directory."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def case(tmp_path: Path, db_url: str | None) -> Iterator[CaseHandle]:
    handle = init_case(tmp_path / "case", "Operation Test", "XX-TEST", db_url)
    yield handle
    handle.close()


@pytest.fixture
def sqlite_case(tmp_path: Path) -> Iterator[CaseHandle]:
    handle = init_case(tmp_path / "case", "Operation Test", "XX-TEST")
    yield handle
    handle.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Real headless Chromium, one per test module (tests/review/browser.py: Debian's chromium,
    driven by Playwright, never a download)."""
    from tests.review.browser import chromium

    with chromium() as b:
        yield b
