from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from tessera.audit import AuditError, append, verify
from tessera.store import models as m
from tessera.store.case import CaseHandle


def test_chain_verifies_and_detects_tampering(case: CaseHandle) -> None:
    with case.session() as s:
        for i in range(5):
            append(s, "analyst1", "suspect.status", f"S0{i}", {"from": "identified", "to": "arrested"})
        s.commit()
        assert verify(s) == 5
        s.execute(update(m.AuditEntry).where(m.AuditEntry.id == 3).values(user="someone-else"))
        s.commit()
        with pytest.raises(AuditError, match="entry 3"):
            verify(s)


def test_deleting_an_entry_breaks_the_chain(case: CaseHandle) -> None:
    with case.session() as s:
        for i in range(3):
            append(s, "analyst1", "decision", f"x{i}")
        s.commit()
        s.delete(s.get(m.AuditEntry, 2))
        s.commit()
        with pytest.raises(AuditError, match="entry 3: chain broken"):
            verify(s)


def test_a_decision_needs_a_user(case: CaseHandle) -> None:
    with case.session() as s, pytest.raises(AuditError):
        append(s, "", "decision", "x")


def test_cli_verify_names_the_edited_row(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tessera.store.case import init_case

    handle = init_case(tmp_path / "c", "Op", "XX")
    with handle.session() as s:
        for i in range(4):
            append(s, "analyst1", "review.reveal", f"sha{i}")
        s.commit()
    cli = [sys.executable, "-m", "tessera", "audit", "verify", "--case", str(tmp_path / "c")]
    ok = subprocess.run(cli, capture_output=True, text=True)
    assert ok.returncode == 0 and "4 entries" in ok.stdout
    with handle.session() as s:
        s.execute(update(m.AuditEntry).where(m.AuditEntry.id == 2).values(subject="shaX"))
        s.commit()
    bad = subprocess.run(cli, capture_output=True, text=True)
    assert bad.returncode == 1 and "entry 2" in bad.stderr
