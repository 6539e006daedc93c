"""`tessera user` and `tessera audit verify` against a case the workstation wrote to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tessera.review import create_app
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tests.review.conftest import sign_in
from tests.review.helpers import PASSWORD, Built


def tessera(*args: str, case: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TESSERA_CASE": str(case)}
    return subprocess.run(
        [sys.executable, "-m", "tessera", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
    )


def test_user_add_and_list(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("a long enough password\n")
    r = tessera(
        "user", "add", "olga", "--role", "examiner", "--password-file", str(pw), case=sqlite_case.directory
    )
    assert r.returncode == 0, r.stderr
    again = tessera("user", "add", "olga", "--password-file", str(pw), case=sqlite_case.directory)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = tessera(
        "user", "add", "x", "--role", "boss", "--password-file", str(pw), case=sqlite_case.directory
    )
    assert bad.returncode == 2 and "role" in bad.stderr
    listed = tessera("user", "list", "--format", "json", case=sqlite_case.directory)
    assert '"olga"' in listed.stdout and '"examiner"' in listed.stdout
    assert "correct" not in listed.stdout and "argon2" not in listed.stdout


def test_edited_audit_row_fails_verification(client: TestClient, built: Built, case: CaseHandle) -> None:
    csrf = sign_in(client, "rita")
    h = {"X-CSRF-Token": csrf}
    assert client.post("/api/reveal", json={"sha256": built.singles[0]}, headers=h).status_code == 200
    assert (
        client.post("/api/decide", json={"sha256": built.singles[1], "category": 1}, headers=h).status_code
        == 200
    )
    ok = tessera("audit", "verify", case=case.directory)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    with case.session() as s:
        row = s.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "reveal"))
        assert row is not None
        s.execute(update(m.AuditEntry).where(m.AuditEntry.id == row.id).values(user="someone-else"))
        s.commit()
    bad = tessera("audit", "verify", case=case.directory)
    assert bad.returncode == 1
    assert f"audit entry {row.id}" in bad.stderr + bad.stdout


def test_a_disabled_user_is_signed_out_and_refused(case: CaseHandle, built: Built) -> None:
    with TestClient(create_app(case)) as client:
        sign_in(client, "rita")
        assert client.get("/review").status_code == 200
        r = tessera("user", "disable", "rita", case=case.directory)
        assert r.returncode == 0, r.stderr
        assert client.get("/review", follow_redirects=False).status_code in (302, 303, 401)
        page = client.get("/login")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": token})
        assert refused.status_code == 401
        assert tessera("user", "enable", "rita", case=case.directory).returncode == 0
        sign_in(client, "rita")
    assert tessera("user", "disable", "nobody", case=case.directory).returncode == 2
    with case.session() as s:
        actions = [a for (a,) in s.execute(select(m.AuditEntry.action)).all()]
    assert "user disable" in actions and "user enable" in actions
