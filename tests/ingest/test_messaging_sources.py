"""Messaging sources inside ingest: found anywhere, bad ones recorded with nothing half stored."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.msgstore import write_phone_tree
from tessera.synth.network import make_network
from tessera.synth.wa_export import write_export

NET = make_network(5)


def _statuses(case: CaseHandle) -> dict[str, tuple[str, str | None]]:
    with case.session() as s:
        return {
            loc: (st, err)
            for loc, st, err in s.execute(
                select(m.MessagingSource.locator, m.MessagingSource.status, m.MessagingSource.error)
            )
        }


def test_bad_sources_are_recorded_and_store_nothing(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "dev"
    phone = NET.seizures[0]
    write_phone_tree(NET, phone, root / "good")
    db = root / "good" / "data/data/com.whatsapp/databases/msgstore.db"
    bad = root / "bad"
    bad.mkdir(parents=True)
    data = db.read_bytes()
    (bad / "msgstore.db").write_bytes(data[: len(data) // 3])  # truncated database
    (bad / "msgstore.db.crypt14").write_bytes(b"\x00\x01" + bytes(range(200)) * 20)  # encrypted backup
    (bad / "result.json").write_text('{"about": "x", "chats": {"list": [{"name": "G", "messages": [', "utf-8")
    capture = next(s for s in NET.seizures if s.format.startswith("wa-export"))
    write_export(NET, capture, root / "capture", style="android", locale="es", as_zip=True)

    res = ingest(case, root, IngestOptions("P-09", kind="phone", workers=0))
    statuses = _statuses(case)
    failed = {loc for loc, (st, _) in statuses.items() if st == "failed"}
    assert failed == {"/bad/msgstore.db", "/bad/msgstore.db.crypt14", "/bad/result.json"}, statuses
    assert "decrypt" in (statuses["/bad/msgstore.db.crypt14"][1] or "")
    assert res.errors >= 3 and {loc for loc, _ in res.problems} >= failed
    good = {loc for loc, (st, _) in statuses.items() if st == "complete"}
    assert any(loc.endswith("/msgstore.db") for loc in good) and any(".zip!/" in loc for loc in good)
    with case.session() as s:
        bad_ids = list(s.scalars(select(m.MessagingSource.id).where(m.MessagingSource.status == "failed")))
        assert (
            s.scalar(select(func.count()).select_from(m.Message).where(m.Message.source_id.in_(bad_ids))) == 0
        )
        stored = s.scalar(select(func.count()).select_from(m.Message))
        # Every attachment of the capture resolves to the image stored from the same zip.
        unresolved = s.scalar(
            select(func.count())
            .select_from(m.Message)
            .where(
                m.Message.media_path.is_not(None), m.Message.media_sha256.is_(None), ~m.Message.media_omitted
            )
        )
    assert stored and unresolved == 0

    # A rerun parses the failed sources again (they still fail) and stores nothing twice.
    again = ingest(case, root, IngestOptions("P-09", kind="phone", workers=0))
    assert again.files_new == 0
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Message)) == stored
    assert {loc for loc, (st, _) in _statuses(case).items() if st == "failed"} == failed


def test_owner_given_on_the_command_line_replaces_the_placeholder(case: CaseHandle, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tessera.synth.msgstore import PREFS

    phone = NET.seizures[0]
    write_phone_tree(NET, phone, tmp_path / "dev")
    (tmp_path / "dev" / PREFS).unlink()  # the phone's own record of its number was not seized
    if case.url.startswith("sqlite"):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "tessera",
                "ingest",
                str(tmp_path / "dev"),
                "--device",
                "P-10",
                "--case",
                str(case.directory),
                "--workers",
                "0",
                "--owner",
                "+34 612 34 56 78",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
    else:
        ingest(
            case, tmp_path / "dev", IngestOptions("P-10", workers=0, parser_options={"owner": "+34612345678"})
        )
    with case.session() as s:
        keys = set(s.scalars(select(m.Account.key)))
    assert "+34612345678" in keys
    assert not any(k.startswith("whatsapp:owner@") for k in keys)
