"""The hub's log anchored (issue 12): keyed chain, receipts, first bad entry named (SQLite, PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from tessera.audit import AuditError
from tessera.audit.log import GENESIS, _canonical
from tessera.hub import audit
from tessera.hub import models as hm
from tessera.hub.db import open_hub, sessions


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    engine = open_hub(url, create=True)
    yield engine
    engine.dispose()


@pytest.fixture
def keyed(hub_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hub-audit.key"
    with sessions(hub_engine)() as s:
        audit.create_hub_key(s, path)
    monkeypatch.setenv(audit.HUB_KEY_ENV, str(path))
    return path


def _fill(engine: Engine, n: int = 6) -> None:
    with sessions(engine)() as s:
        for i in range(n):
            audit.append(s, f"NL#{i}", "POST", "/v1/query", {"n": i})
        s.commit()


def _rechain(s: Session, first_pos: int, subject: str) -> None:
    """An attacker without the key: edit entry #first_pos, recompute later plain hashes and the head."""
    prev = GENESIS
    for n, e in enumerate(s.scalars(select(hm.AuditEntry).order_by(hm.AuditEntry.id)), start=1):
        if n == first_pos:
            e.subject = subject
        if n >= first_pos:
            e.prev_hash = prev
            body = prev.encode() + b"\n" + _canonical(e.at, e.user, e.action, e.subject, e.details)
            e.hash = hashlib.sha256(body).hexdigest()
        prev = e.hash
    head = s.get(hm.Counter, "audit")
    assert head is not None
    head.text = prev
    s.commit()


def test_keyed_hub_log_verifies_and_anchors(hub_engine: Engine, keyed: Path) -> None:
    _fill(hub_engine)
    key = audit.hub_key()
    assert key is not None and keyed.stat().st_mode & 0o777 == 0o600
    with sessions(hub_engine)() as s:
        receipt = audit.anchor(s, key)
        res = audit.verify_all(s, receipts=[receipt])
    assert receipt["scope"] == "hub" and receipt["sequence"] == res.entries == 6 and res.unkeyed == 0


def test_hub_edit_and_rechain_is_named(hub_engine: Engine, keyed: Path) -> None:
    _fill(hub_engine)
    with sessions(hub_engine)() as s:
        ids = list(s.scalars(select(hm.AuditEntry.id).order_by(hm.AuditEntry.id)))
        _rechain(s, 3, "/v1/other")
        with pytest.raises(AuditError, match=rf"hub audit entry {ids[2]} \(#3\).*keyed hash does not match"):
            audit.verify(s)


def test_hub_tail_deletion_caught_by_receipt(hub_engine: Engine, keyed: Path) -> None:
    _fill(hub_engine)
    key = audit.hub_key()
    assert key is not None
    with sessions(hub_engine)() as s:
        receipt = audit.anchor(s, key)
        ids = list(s.scalars(select(hm.AuditEntry.id).order_by(hm.AuditEntry.id)))
        s.execute(delete(hm.AuditEntry).where(hm.AuditEntry.id >= ids[4]))
        head = s.get(hm.Counter, "audit")
        assert head is not None
        head.text, head.value = s.get_one(hm.AuditEntry, ids[3]).hash, 4  # the head rewritten too
        s.commit()
        assert audit.verify(s) == 4
        with pytest.raises(AuditError, match="truncated.*first missing entry: 5"):
            audit.verify_all(s, receipts=[receipt])


def test_hub_key_readable_by_others_is_refused(hub_engine: Engine, keyed: Path) -> None:
    keyed.chmod(0o644)
    with sessions(hub_engine)() as s, pytest.raises(AuditError, match="group or others"):
        audit.append(s, "NL#1", "POST", "/v1/query")


def test_hub_key_added_later_keys_only_new_entries(
    hub_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(hub_engine, 3)
    path = tmp_path / "k"
    with sessions(hub_engine)() as s:
        assert audit.create_hub_key(s, path).from_sequence == 4
    monkeypatch.setenv(audit.HUB_KEY_ENV, str(path))
    _fill(hub_engine, 2)
    with sessions(hub_engine)() as s:
        res = audit.verify_all(s)
        assert res.entries == 5 and res.unkeyed == 3 and res.notes
        _rechain(s, 2, "/v1/x")  # an old entry: the first keyed entry (#4) no longer matches
        with pytest.raises(AuditError, match=r"\(#4\).*keyed hash"):
            audit.verify(s)
