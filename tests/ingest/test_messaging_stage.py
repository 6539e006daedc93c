"""The messaging stage of ingest: reconciliation stored and judged, known apps named, parsers as plugins.

A parser registered here, in the test alone, is found by the walk, given its companion file, and its
attachments resolve from its declared media root: adding a parser needs no edit anywhere else.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from sqlalchemy import func, select

from tessera.evidence import open_item
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging import PARSERS, ParseContext
from tessera.messaging.apps import recognise
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import MediaRef, MessageRecord, MessagingRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle


class LinesParser:
    """``*.lines``: one message per line ``<unix seconds>|<sender>|<text>[|<attachment>]``; a line
    that does not split so is skipped (counted); ``#`` lines are comments (ignored). The companion
    ``names.tsv`` beside it is read only to prove companions reach the parser."""

    name: ClassVar[str] = "test-lines"
    patterns: ClassVar[tuple[str, ...]] = ("*.lines",)
    companions: ClassVar[tuple[str, ...]] = ("names.tsv",)
    media_roots: ClassVar[tuple[str, ...]] = ("LinesApp/Media",)

    def detect(self, locator: str, head: bytes) -> bool:
        return head.startswith(b"#lines")

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        names = ctx.sibling("names.tsv")
        if names is not None:
            with open_item(names) as fh:
                ctx.coverage.note(f"companion read: {len(fh.read().splitlines())} names")
        with open_item(ctx.opener) as fh:
            lines = fh.read().decode().splitlines()
        ctx.coverage.holds("lines", len(lines))
        for n, line in enumerate(lines, 1):
            where = f"{ctx.locator}#L{n}"
            if line.startswith("#"):
                ctx.coverage.ignore("lines", "comment", where)
                continue
            parts = line.split("|")
            if len(parts) not in (3, 4) or not parts[0].isdigit():
                ctx.coverage.skip("lines", "not <time>|<sender>|<text>", where)
                continue
            ctx.coverage.parsed("lines")
            yield MessageRecord(
                "telegram",
                "chat1",
                parts[1],
                datetime.fromtimestamp(int(parts[0]), UTC),
                text=parts[2],
                media=MediaRef(path=parts[3]) if len(parts) == 4 else None,
                raw_id=str(n),
                locator=where,
            )


if LinesParser.name not in PARSERS:
    PARSERS.register(LinesParser.name)(LinesParser())


def _tree(root: Path, body: str) -> None:
    (root / "LinesApp/Media").mkdir(parents=True)
    (root / "LinesApp/Media/a.bin").write_bytes(b"attachment bytes")
    (root / "chats").mkdir()
    (root / "chats/one.lines").write_text(body)
    (root / "chats/names.tsv").write_text("user1\tOne\nuser2\tTwo\n")


def _sources(case: CaseHandle) -> dict[str, m.MessagingSource]:
    with case.session() as s:
        rows = list(s.scalars(select(m.MessagingSource)))
        s.expunge_all()
    return {r.locator: r for r in rows}


def test_a_parser_registered_alone_is_found_fed_and_reconciled(case: CaseHandle, tmp_path: Path) -> None:
    _tree(tmp_path / "dev", "#lines v1\n1700000000|user1|hello|a.bin\n1700000060|user2|hi\n")
    res = ingest(case, tmp_path / "dev", IngestOptions("L1", workers=0))
    src = _sources(case)["/chats/one.lines"]
    assert (src.parser, src.status, src.messages, src.error) == ("test-lines", "complete", 2, None)
    cov = Coverage.from_json(src.coverage)
    assert (
        cov.units["lines"].present == 3 and cov.units["lines"].parsed == 2 and cov.units["lines"].ignored == 1
    )
    assert "companion read: 2 names" in cov.notes
    assert res.errors == 0 and [r.status for r in res.messaging] == ["complete"]
    with case.session() as s:
        linked = s.scalar(select(m.Message.media_sha256).where(m.Message.media_path == "a.bin"))
        stored = s.scalar(select(m.File.sha256).where(m.File.locator == "/LinesApp/Media/a.bin"))
    assert linked is not None and linked == stored  # resolved through the declared media root


def test_partial_source_is_stored_with_reasons_and_rerun_stores_nothing_twice(
    case: CaseHandle, tmp_path: Path
) -> None:
    _tree(tmp_path / "dev", "#lines v1\n1700000000|user1|hello\ngarbage here\n1700000120|user2|bye\nx|y\n")
    res = ingest(case, tmp_path / "dev", IngestOptions("L2", workers=0))
    src = _sources(case)["/chats/one.lines"]
    assert src.status == "partial" and src.messages == 2
    assert src.error == "2 lines skipped: not <time>|<sender>|<text>"
    cov = Coverage.from_json(src.coverage)
    (reason,) = [r for r in cov.reasons.values() if r.kind == "skipped"]
    assert reason.examples == ["/chats/one.lines#L3", "/chats/one.lines#L5"]
    assert res.errors == 1 and res.problems[-1][0] == "/chats/one.lines"
    again = ingest(case, tmp_path / "dev", IngestOptions("L2", workers=0))
    assert again.messaging == []  # already stored: not parsed twice
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Message)) == 2
        assert s.scalar(select(func.count()).select_from(m.MessagingSource)) == 1


def test_nothing_parsed_is_failed_and_stores_nothing(case: CaseHandle, tmp_path: Path) -> None:
    _tree(tmp_path / "dev", "#lines v1\nnot a message\nnor this\n")
    res = ingest(case, tmp_path / "dev", IngestOptions("L3", workers=0))
    src = _sources(case)["/chats/one.lines"]
    assert src.status == "failed" and src.messages == 0
    assert "2 lines skipped" in (src.error or "")
    assert Coverage.from_json(src.coverage).units["lines"].skipped == 2
    assert [r.status for r in res.messaging] == ["failed"]
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Message)) == 0
        assert s.scalar(select(func.count()).select_from(m.Chat)) == 0


#: Telegram for iOS's Postbox store: a known app no parser reads (Telegram for Android's cache4.db is
#: parsed, by telegram-android).
_TG_IOS = "private/var/mobile/Containers/Shared/AppGroup/T/telegram-data/account-1/postbox/db/db_sqlite"


def _sqlite(path: Path, table: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE {table} (uid INTEGER, data BLOB)")
    con.commit()
    con.close()


def test_known_apps_are_named_present_not_parsed(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "phone"
    _sqlite(root / _TG_IOS, "t0")
    (root / (_TG_IOS + "-wal")).write_bytes(b"")
    _sqlite(root / "data/data/com.viber.voip/databases/viber_messages", "messages")
    (root / "data/data/org.thoughtcrime.securesms/databases").mkdir(parents=True)
    (root / "data/data/org.thoughtcrime.securesms/databases/signal.db").write_bytes(b"\x8a" * 4096)
    (root / "Documents").mkdir()
    (root / "Documents/signal.db").write_bytes(b"not Signal's: no securesms in the path")
    res = ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    named = {loc: (s.parser, s.status) for loc, s in _sources(case).items()}
    assert named == {
        "/" + _TG_IOS: ("telegram-ios", "not parsed"),
        "/data/data/com.viber.voip/databases/viber_messages": ("viber-android", "not parsed"),
        "/data/data/org.thoughtcrime.securesms/databases/signal.db": ("signal-android", "not parsed"),
    }
    assert res.errors == 0  # named, not a failure of this run
    assert all("present, not parsed" in (r.error or "") for r in res.messaging)
    again = ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    assert again.messaging == [] and len(_sources(case)) == 3


def test_recognise_needs_the_path_where_the_name_is_common() -> None:
    assert recognise("/sdcard/x!/data/data/org.thoughtcrime.securesms/databases/signal.db") is not None
    assert recognise("/home/u/.config/Signal/sql/db.sqlite") is not None
    assert recognise("/home/u/projects/db.sqlite") is None
    assert recognise("/x/viber_messages-wal") is None and recognise("/x/VIBER_MESSAGES") is not None


def tessera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)


def test_cli_exit_codes_summary_and_sources_listing(tmp_path: Path) -> None:
    """Through the real command line: a partial source prints its counts and exits 1, also when the
    run is repeated (the stored status counts); ``tessera sources`` lists every source."""
    case_dir = tmp_path / "case"
    assert tessera("case", "init", str(case_dir), "--name", "Op", "--agency", "XX").returncode == 0
    root = tmp_path / "dev"
    _sqlite(root / _TG_IOS, "t0")
    (root / "data/data/com.whatsapp/databases").mkdir(parents=True)
    (root / "data/data/com.whatsapp/databases/msgstore.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 80)
    runs = [
        tessera("ingest", str(root), "--device", "D1", "--case", str(case_dir), "--workers", "0")
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 1, run.stderr
        assert "not parsed in full" in run.stdout + run.stderr
    assert "failed D1:/data/data/com.whatsapp/databases/msgstore.db" in runs[0].stdout
    assert f"not parsed D1:/{_TG_IOS}" in runs[0].stdout
    listing = tessera("sources", "--case", str(case_dir), "--format", "json")
    assert listing.returncode == 0, listing.stderr
    rows = {r["locator"]: r for r in json.loads(listing.stdout)}
    assert rows["/data/data/com.whatsapp/databases/msgstore.db"]["status"] == "failed"
    assert rows["/" + _TG_IOS]["status"] == "not parsed"
    csv_out = tessera("sources", "--case", str(case_dir), "--format", "csv", "--status", "not parsed")
    assert csv_out.stdout.splitlines()[0] == "device,locator,parser,status,messages,coverage,reason"
    assert len(csv_out.stdout.splitlines()) == 2


def test_report_lists_sources_with_counts_and_unparsed_apps(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    from tessera.report.build import build_report
    from tessera.report.render import write_html

    root = tmp_path / "dev"
    _tree(root, "#lines v1\n1700000000|user1|hello\nbroken\n")
    _sqlite(root / _TG_IOS, "t0")
    ingest(sqlite_case, root, IngestOptions("R1", workers=0))
    report = build_report(sqlite_case)
    (dev,) = report["devices"]
    by_loc = {r["locator"]: r for r in dev["messaging_sources"]}
    assert by_loc["/chats/one.lines"]["status"] == "partial"
    assert by_loc["/chats/one.lines"]["units"]["lines"]["skipped"] == 1
    assert by_loc["/" + _TG_IOS]["status"] == "not parsed"
    # A case with chats and accounts has a network section even before any message is stored.
    assert report["network"] is not None
    html = tmp_path / "r.html"
    write_html(report, html)
    text = html.read_text()
    assert "Messaging sources (2)" in text and "present, not parsed" in text and "#L3" in text


def test_spooled_companions_are_removed_and_media_links_are_not_one_query_each(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    """A phone extraction zipped, its members spooled to scratch (tiny in-memory limit): after the
    run no spool file is left (companions such as wa.db included), and linking a database's media
    costs a bounded number of statements, not one per message."""
    import shutil

    from sqlalchemy import event

    from tessera.evidence import Limits
    from tessera.evidence.base import SPOOL_PREFIX
    from tessera.synth.msgstore import write_phone_tree
    from tessera.synth.network import make_network

    net = make_network(5)
    tree = tmp_path / "tree"
    write_phone_tree(net, net.seizures[0], tree)
    shutil.make_archive(str(tmp_path / "ext"), "zip", tree)
    (tmp_path / "dev").mkdir()
    shutil.move(str(tmp_path / "ext.zip"), tmp_path / "dev/ext.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    selects: list[str] = []
    engine = sqlite_case.engine

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM file" in statement:
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        res = ingest(
            sqlite_case,
            tmp_path / "dev",
            IngestOptions("Z1", workers=0, limits=Limits(max_member_bytes=1024, scratch_dir=scratch)),
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [r.status for r in res.messaging] == ["complete"], res.messaging
    assert not [p for p in scratch.rglob("*") if p.name.startswith(SPOOL_PREFIX)]
    with sqlite_case.session() as s:
        media_msgs = s.scalar(
            select(func.count()).select_from(m.Message).where(m.Message.media_path.is_not(None))
        )
    assert media_msgs and media_msgs > 10
    assert len(selects) < 20, len(selects)


class DupesParser(LinesParser):
    """Like ``*.lines`` but every message gets the same locator: a parser bug the store must count."""

    name: ClassVar[str] = "test-dupes"
    patterns: ClassVar[tuple[str, ...]] = ("*.dupes",)

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        for rec in super().parse(ctx):
            assert isinstance(rec, MessageRecord)
            rec.locator = f"{ctx.locator}#same"
            yield rec


if DupesParser.name not in PARSERS:
    PARSERS.register(DupesParser.name)(DupesParser())


def test_messages_lost_to_a_shared_locator_are_counted(case: CaseHandle, tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/a.dupes").write_text("#lines\n1700000000|u1|a\n1700000001|u2|b\n1700000002|u3|c\n")
    ingest(case, tmp_path / "dev", IngestOptions("U1", workers=0))
    src = _sources(case)["/a.dupes"]
    assert src.status == "partial"
    assert src.error == "2 stored messages skipped: same locator as another message"


def test_parsing_a_database_leaves_its_access_time_alone(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    """SQLite cannot open a file with O_NOATIME; the database is read from a copy the read-only helper
    made, so the evidence's atime stays as it was (relatime would update an atime older than mtime)."""
    import os

    from tessera.synth.msgstore import write_phone_tree
    from tessera.synth.network import make_network

    net = make_network(5)
    info = write_phone_tree(net, net.seizures[0], tmp_path / "dev")
    before = {}
    # Files only: folders' atimes are the walk's business (issue 11), not the parsers'.
    for p in (tmp_path / "dev").rglob("*"):
        if not p.is_file():
            continue
        st = p.stat()
        os.utime(p, ns=(st.st_mtime_ns - 3 * 86400 * 10**9, st.st_mtime_ns))
        before[p] = p.stat().st_atime_ns
    res = ingest(sqlite_case, tmp_path / "dev", IngestOptions("T1", workers=0))
    assert [r.status for r in res.messaging] == ["complete"] and Path(info["msgstore"]).exists()
    assert {p: p.stat().st_atime_ns for p in before} == before


def test_wrong_schema_unknown_layout_and_unreadable_lines(case: CaseHandle, tmp_path: Path) -> None:
    """Each bad kind of source is failed or partial with its reason, nothing of a failed one is
    stored, and the rerun stores nothing twice (failed sources are tried again, and fail again)."""
    root = tmp_path / "dev"
    root.mkdir()
    con = sqlite3.connect(root / "msgstore.db")
    con.execute("CREATE TABLE foo (x)")
    con.execute("INSERT INTO foo VALUES (1)")
    con.commit()
    con.close()
    (root / "notes.txt").write_text("2023-12-14T13:34 Ann: hi\n2023-12-14T13:35 Bob: ho\n")
    (root / "WhatsApp Chat with X.txt").write_text(
        "14/12/2023, 13:34 - Ann: hi\n14/13/2023, 13:35 - Bob: ho\n14/12/2023, 13:36 - Cy: ok\n"
    )
    for run in range(2):
        ingest(case, root, IngestOptions("B1", workers=0))
        got = {loc: (s.status, s.error) for loc, s in _sources(case).items()}
        assert got["/msgstore.db"] == (
            "failed",
            "msgstore.db: not a WhatsApp msgstore database: missing table message/messages",
        )
        assert got["/notes.txt"][0] == "failed" and "unknown layout" in (got["/notes.txt"][1] or "")
        status, reason = got["/WhatsApp Chat with X.txt"]
        assert status == "partial" and "1 lines skipped" in (reason or ""), (run, reason)
        with case.session() as s:
            texts = sorted(s.scalars(select(m.Message.text)))
            assert texts == ["hi", "ok"]  # the unreadable line is not glued onto "hi"
            assert s.scalar(select(func.count()).select_from(m.MessagingSource)) == 3
