"""Anchored audit (issue 12): keyed MACs, receipts and decision coverage, each attack named by verify,
through the library and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from tessera.audit import AuditError, AuditKeyError, append, create_key, load_key, verify_all
from tessera.audit.keys import register
from tessera.audit.log import GENESIS, chain_digest
from tessera.audit.receipt import anchor, read_receipt
from tessera.review.data import decide
from tessera.store import models as m
from tessera.store.case import CaseHandle


def _sha(i: int) -> str:
    return hashlib.sha256(f"invented-{i}".encode()).hexdigest()


def _keyed(case: CaseHandle) -> Path:
    path = case.directory / "audit.key"
    create_key(path)
    register(case.engine, path)  # the PostgreSQL case's session cannot find its directory alone
    return path


def _fill(case: CaseHandle, n: int = 6) -> None:
    """A few reveals and decisions, the way the workstation writes them."""
    with case.session() as s:
        for i in range(3):
            s.add(m.Media(sha256=_sha(i), md5="0" * 32, sha1="0" * 40, size=10, kind="image"))
        s.flush()
        for i in range(n):
            if i % 2:
                decide(s, "rita", _sha(i % 3), i % 5, whole_cluster=False)
            else:
                append(s, "rita", "reveal", _sha(i % 3), {"view": "thumbnail"})
        s.commit()


def cli(case: CaseHandle, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TESSERA_AUDIT_KEY", "TESSERA_CASE")}
    return subprocess.run(
        [sys.executable, "-m", "tessera", "audit", *args, "--case", str(case.directory)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _rechain_from(case: CaseHandle, first: int, **change: str) -> None:
    """What an attacker without the key does: edit one entry, recompute every later plain hash."""
    with case.session() as s:
        rows = list(s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.id)))
        prev = GENESIS
        for e in rows:
            if e.id == first:
                for k, v in change.items():
                    setattr(e, k, v)
            if e.id >= first:
                e.prev_hash = prev
                e.hash = chain_digest(prev, e.at, e.user, e.action, e.subject, e.details)
            prev = e.hash
        s.commit()


def test_clean_log_verifies_with_receipt(case: CaseHandle, tmp_path: Path) -> None:
    key = load_key(_keyed(case))
    _fill(case)
    with case.session() as s:
        receipt = anchor(s, key)
        res = verify_all(s, receipts=[receipt])
    assert res.entries == 6 and res.unkeyed == 0 and res.decisions == 3 and res.receipts == 1
    assert receipt["format"] == "tessera-audit-receipt" and receipt["version"] == 1
    assert receipt["sequence"] == res.head_id and "secret" not in json.dumps(receipt)
    out = tmp_path / "r.json"
    made = cli(case, "anchor", "--out", str(out))
    assert made.returncode == 0, made.stderr
    ok = cli(case, "verify", "--receipt", str(out))
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert "6 entries" in ok.stdout and "3 decision rows" in ok.stdout and "1 receipt" in ok.stdout


def test_edit_and_rechain_is_named(case: CaseHandle) -> None:
    _keyed(case)
    _fill(case)
    _rechain_from(case, 3, user="someone-else")
    with case.session() as s, pytest.raises(AuditError, match="audit entry 3: MAC does not match") as err:
        verify_all(s)
    assert err.value.entry == 3
    bad = cli(case, "verify")
    assert bad.returncode == 1 and "audit entry 3: MAC" in bad.stderr


def test_stripping_macs_is_named(case: CaseHandle) -> None:
    _keyed(case)
    _fill(case)
    with case.session() as s:
        s.execute(update(m.AuditEntry).values(mac=None))
        s.commit()
    with case.session() as s, pytest.raises(AuditError, match="audit entry 1: no MAC"):
        verify_all(s)


def test_tail_deletion_caught_by_an_earlier_receipt(case: CaseHandle, tmp_path: Path) -> None:
    key = load_key(_keyed(case))
    _fill(case)
    out = tmp_path / "receipt.json"
    assert cli(case, "anchor", "--out", str(out)).returncode == 0
    with case.session() as s:
        s.execute(delete(m.AuditEntry).where(m.AuditEntry.id >= 5))
        s.execute(delete(m.Decision).where(m.Decision.id == 3))  # the decision entry 6 recorded
        s.commit()
        assert verify_all(s).entries == 4  # the plain chain and MACs alone cannot tell
        with pytest.raises(AuditError, match="truncated.*first missing entry: 5") as err:
            verify_all(s, key, [read_receipt(out)])
    assert err.value.entry == 5
    bad = cli(case, "verify", "--receipt", str(out))
    assert bad.returncode == 1 and "first missing entry: 5" in bad.stderr


def test_forged_receipt_is_refused(case: CaseHandle, tmp_path: Path) -> None:
    _keyed(case)
    _fill(case)
    out = tmp_path / "receipt.json"
    assert cli(case, "anchor", "--out", str(out)).returncode == 0
    body = json.loads(out.read_text())
    body["sequence"] = 2
    out.write_text(json.dumps(body))
    bad = cli(case, "verify", "--receipt", str(out))
    assert bad.returncode == 1 and "receipt MAC does not match" in bad.stderr


def test_changed_decision_row_is_named(case: CaseHandle) -> None:
    _keyed(case)
    _fill(case)
    with case.session() as s:
        s.execute(update(m.Decision).where(m.Decision.id == 2).values(category=4))
        s.commit()
        with pytest.raises(AuditError, match="decision row 2 .*category 4.*records 3") as err:
            verify_all(s)
    assert err.value.entry == 2
    bad = cli(case, "verify")
    assert bad.returncode == 1 and "decision row 2" in bad.stderr


def test_unaudited_and_deleted_decision_rows_are_named(case: CaseHandle) -> None:
    _keyed(case)
    _fill(case)
    with case.session() as s:
        s.add(m.Decision(sha256=_sha(0), category=1, profile="vics-us", user="mallory"))
        s.commit()
        new_id = s.scalar(select(m.Decision.id).order_by(m.Decision.id.desc()).limit(1))
        with pytest.raises(AuditError, match=f"decision row {new_id} .*has no audit entry"):
            verify_all(s)
        s.execute(delete(m.Decision).where(m.Decision.id.in_([1, new_id])))
        s.commit()
        with pytest.raises(AuditError, match="audit entry 2 .*missing from the decision table"):
            verify_all(s)


def test_key_file_permissions_enforced(case: CaseHandle) -> None:
    path = _keyed(case)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(AuditKeyError, match="already exists"):
        create_key(path)
    path.chmod(0o640)
    with pytest.raises(AuditKeyError, match="group or others"):
        load_key(path)
    with case.session() as s, pytest.raises(AuditError, match="refusing to use it"):
        append(s, "rita", "reveal", _sha(0))
    bad = cli(case, "verify")
    assert bad.returncode == 2 and "chmod 600" in bad.stderr


def test_legacy_case_keygen_anchors_from_now_on(case: CaseHandle) -> None:
    with case.session() as s:
        for i in range(3):
            append(s, "rita", "reveal", _sha(i))
        s.commit()
    ok = cli(case, "verify")
    assert ok.returncode == 0 and "no key, MACs not checked" in ok.stdout and "keygen" in ok.stderr
    made = cli(case, "keygen")
    assert made.returncode == 0 and "from 4 on" in made.stdout, made.stderr
    register(case.engine, case.directory / "audit.key")
    with case.session() as s:
        append(s, "rita", "reveal", _sha(5))
        s.commit()
        res = verify_all(s)
    assert res.unkeyed == 3 and res.entries == 4 and any("hash-chained only" in n for n in res.notes)
    _rechain_from(case, 2, subject="x")  # old rows: only the key-era MAC of entry 4 notices
    with case.session() as s, pytest.raises(AuditError, match="audit entry 4: MAC"):
        verify_all(s)


def test_case_init_creates_a_private_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TESSERA_AUDIT_KEY"}
    key = tmp_path / "elsewhere" / "k.key"
    args = ["case", "init", str(tmp_path / "c"), "--name", "Op", "--agency", "XX", "--audit-key", str(key)]
    r = subprocess.run(
        [sys.executable, "-m", "tessera", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert key.stat().st_mode & 0o777 == 0o600 and load_key(key).from_sequence == 1


def test_a_missing_key_is_not_a_case_without_one(case: CaseHandle, tmp_path: Path) -> None:
    path = _keyed(case)
    _fill(case, 2)
    moved = tmp_path / "moved.key"
    path.rename(moved)  # an intruder (or an operator) takes the key away: verify must not pass quietly
    bad = cli(case, "verify")
    assert bad.returncode == 1 and "audit entry 1 carries a MAC but no audit key" in bad.stderr
    ok = cli(case, "verify", "--key", str(moved))
    assert ok.returncode == 0, ok.stderr
    gone = cli(case, "verify", "--key", str(tmp_path / "nope.key"))
    assert gone.returncode == 2 and "does not exist" in gone.stderr


def test_postgresql_case_appenders_find_the_key(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL case opened elsewhere has no directory in its URL: `case init` notes the key path."""
    from tessera.store.case import open_case

    for var in ("TESSERA_AUDIT_KEY", "TESSERA_CASE"):
        monkeypatch.delenv(var, raising=False)
    directory = tmp_path / "pgcase"
    args = ["case", "init", str(directory), "--name", "Op", "--agency", "XX", "--db", pg_url]
    made = subprocess.run(
        [sys.executable, "-m", "tessera", *args], capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    handle = open_case(directory)
    try:
        with handle.session() as s:
            entry = append(s, "rita", "reveal", _sha(1))
            s.commit()
            assert entry.mac is not None
        ok = cli(handle, "verify")
        assert ok.returncode == 0 and "MACs checked from entry 1" in ok.stdout, ok.stderr
    finally:
        handle.close()
