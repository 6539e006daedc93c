from __future__ import annotations

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
