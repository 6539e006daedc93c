"""NSRL RDS v3 known-good sets: a generated RDS (the real schema, invented content) imported into a case
on SQLite and PostgreSQL, a device's files listed in it left out of review, new material and counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tessera.cli import app as cli
from tessera.hashsets import detect_format, open_hashset
from tessera.hashsets.nsrl_delta import read_delta
from tessera.ingest.importer import hashset_summary, import_hashset
from tessera.ingest.known import apply_delta, drop_known, iter_known_files, mark_benign
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.records import FormatError
from tessera.report.build import build_report
from tessera.review.data import dashboard, review_page
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.db import StoreError
from tessera.store.models_known import KnownHash
from tessera.store.queries import device_stats, iter_new_material
from tessera.synth.images import jpeg_bytes
from tessera.synth.nsrl import KnownFile, invented_rows, known_file, write_delta, write_rds3

ROWS = 20_000


def _device(root: Path) -> tuple[Path, list[KnownFile], list[KnownFile]]:
    """A device of six generated pictures and two small files: the first three pictures and both
    small files are 'system' files the RDS will list, the other three pictures are not."""
    ev = root / "evidence" / "D015"
    (ev / "system").mkdir(parents=True)
    (ev / "DCIM").mkdir()
    listed: list[KnownFile] = []
    other: list[KnownFile] = []
    for k in range(6):
        data = jpeg_bytes(1500 + k, 320, 240)
        folder = "system" if k < 3 else "DCIM"
        (ev / folder / f"img{k}.jpg").write_bytes(data)
        (listed if k < 3 else other).append(known_file(data, f"img{k}.jpg"))
    for k in range(2):
        data = f"synthetic system library {k}\n".encode() * 40
        (ev / "system" / f"lib{k}.so").write_bytes(data)
        listed.append(known_file(data, f"lib{k}.so"))
    return ev, listed, other


def _queue(case: CaseHandle) -> set[str]:
    with case.session() as s:
        items, _total = review_page(s, 1, 500)
    return {i["sha256"] for i in items}


def _new(case: CaseHandle) -> set[str]:
    with case.session() as s:
        return {r["sha256"] for r in iter_new_material(s)}


def test_generated_rds_is_sniffed_and_read_in_both_builds(tmp_path: Path) -> None:
    for build in ("minimal", "full"):
        path = write_rds3(tmp_path / f"{build}.db", 500, build=build, seed=3)
        assert detect_format(path.read_bytes()[:65536]) == "nsrl-rds3"
        distinct = {r[0] for r in invented_rows(500, 3)}
        with path.open("rb") as fh:
            reader = open_hashset(fh)
            assert reader.info.metadata["build"] == build
            assert reader.info.version == "2026.09.1"
            entries = list(reader)
        assert {e.value.upper() for e in entries if e.algorithm == "sha256"} == distinct
        assert {e.algorithm for e in entries} == {"sha256", "sha1", "md5"}


def test_device_files_listed_in_the_rds_leave_review_new_material_and_counts(
    case: CaseHandle, tmp_path: Path
) -> None:
    ev, listed, other = _device(tmp_path)
    ingest(case, ev, IngestOptions(device_id="D015", workers=1))
    pictures = {k.sha256 for k in listed[:3]} | {k.sha256 for k in other}
    assert _queue(case) == pictures
    before = _new(case)
    assert before == pictures

    rds = write_rds3(tmp_path / "rds.db", ROWS, known=listed, seed=15)
    res = import_hashset(case, rds, name="NSRL modern minimal")
    assert res.disposition == "known-good" and res.format == "nsrl-rds3"
    expected = len({r[0] for r in invented_rows(ROWS, 15)} | {k.sha256.upper() for k in listed})
    assert res.entries == expected
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(KnownHash)) == expected
        assert s.scalar(select(func.count()).select_from(m.HashEntry)) == 0  # never hits
        assert s.scalar(select(func.count()).select_from(m.Match)) == 0
        assert s.scalar(select(func.count()).select_from(m.File)) == 8  # kept

    assert _queue(case) == {k.sha256 for k in other}
    assert _new(case) == {k.sha256 for k in other}
    with case.session() as s:
        stats = device_stats(s, "D015")
        board = dashboard(s)
        known = list(iter_known_files(s, "D015"))
    assert stats["files"] == 3 and stats["unique_media"] == 3 and stats["new_material"] == 3
    assert stats["known_good_excluded"]["files"] == 5
    assert stats["known_good_excluded"]["unique_media"] == 5
    assert stats["known_good_excluded"]["new_material"] == 3
    assert stats["known_good_excluded"]["bytes"] == sum(k.size for k in listed)
    assert board["known_good_excluded"] == 5
    assert sorted(f["locator"].rsplit("/", 1)[-1] for f in known) == [
        "img0.jpg",
        "img1.jpg",
        "img2.jpg",
        "lib0.so",
        "lib1.so",
    ]
    report = build_report(case)
    assert report["totals"]["known_good_excluded"]["files"] == 5
    assert report["totals"]["files"] == 3
    summary = {h["name"]: h for h in hashset_summary(case)}["NSRL modern minimal"]
    assert summary["disposition"] == "known-good" and summary["by_algorithm"] == {"sha256": expected}

    # A delta: one picture's row deleted (it is back in review), a new row listing another picture.
    delta = write_delta(
        tmp_path / "delta.sql",
        adds=[(other[0].sha256.upper(), other[0].sha1, other[0].md5, "00000000", "x.jpg", 1, 202)],
        deletes=[(listed[0].sha256, 201, listed[0].name)],
        new_packages=[202],
    )
    rec = apply_delta(case, "NSRL modern minimal", delta)
    assert rec["rows_added"] == 1 and rec["rows_removed"] == 1 and rec["removals_not_in_set"] == 0
    # BEGIN/COMMIT are counted and passed over, as docs/known-good.md says; the deleted row was its
    # digest's last, so that digest left the set (a whole-hash delete there was none).
    assert rec["passed_over"] == {"BEGIN": 1, "COMMIT": 1, "INSERT PKG": 1}
    assert rec["digests_removed"] == 1 and rec["hashes_dropped"] == 0
    assert rec["digests_after"] == expected
    assert _queue(case) == {listed[0].sha256} | {k.sha256 for k in other[1:]}

    assert drop_known(case, "NSRL modern minimal") == expected
    assert _queue(case) == pictures
    assert mark_benign(case, "rita", [other[1].sha256.upper()], "a meme") == [other[1].sha256]
    assert _queue(case) == pictures - {other[1].sha256}


def test_a_hash_listed_by_two_packages_stays_until_both_rows_are_deleted(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    ev, listed, _other = _device(tmp_path)
    ingest(sqlite_case, ev, IngestOptions(device_id="D015", workers=1))
    rds = write_rds3(tmp_path / "rds.db", 10, known=listed[:1], seed=4)
    import_hashset(sqlite_case, rds, name="rds")
    twice = write_delta(
        tmp_path / "d1.sql",
        adds=[(listed[0].sha256.upper(), listed[0].sha1, listed[0].md5, "0", "copy.jpg", 1, 7)],
    )
    apply_delta(sqlite_case, "rds", twice)
    once = write_delta(tmp_path / "d2.sql", deletes=[(listed[0].sha256, 7, "copy.jpg")])
    assert apply_delta(sqlite_case, "rds", once)["digests_removed"] == 0  # a row is left
    assert listed[0].sha256 not in _queue(sqlite_case)  # still listed by package 201
    rec = apply_delta(
        sqlite_case, "rds", write_delta(tmp_path / "d3.sql", deletes=[(listed[0].sha256, 201, "img0.jpg")])
    )
    assert rec["rows_removed"] == 1 and rec["digests_removed"] == 1
    assert listed[0].sha256 in _queue(sqlite_case)
    missing = apply_delta(sqlite_case, "rds", once)
    assert missing["removals_not_in_set"] == 1


def test_malformed_rds_and_deltas_name_the_place(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    import sqlite3

    bad = write_rds3(tmp_path / "bad.db", 50, seed=5)
    with sqlite3.connect(bad) as db:
        db.execute("INSERT INTO FILE VALUES ('NOTAHASH', 'A', 'B', 'C', 'x', 1, 1)")
    with pytest.raises(FormatError, match="NOTAHASH.*FILE group"):
        import_hashset(sqlite_case, bad, name="bad")
    with sqlite_case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.HashSet)) == 0  # all or nothing
        assert s.scalar(select(func.count()).select_from(KnownHash)) == 0

    sha = "AB" * 32
    cases = {
        "UPDATE FILE SET file_name = 'y' WHERE sha256 = 'x';": "UPDATE on FILE",
        "DELETE FROM FILE WHERE package_id = 5;": "without a sha256 condition",
        f"INSERT INTO FILE VALUES ('{sha}', 'x');": "2 values for 7 columns",
        "DELETE FROM FILE WHERE sha256 = 'abc';": "not 64 hex digits",
        "SELECT 1;": "unsupported SQL statement SELECT",
    }
    for sql, message in cases.items():
        path = tmp_path / "d.sql"
        path.write_text(f"BEGIN TRANSACTION;\n-- comment\n{sql}\nCOMMIT;\n")
        with pytest.raises(FormatError, match=f"{message}.*line 3"):
            list(read_delta(path))
    unterminated = tmp_path / "u.sql"
    unterminated.write_text(f"INSERT INTO FILE VALUES ('{sha}'")
    with pytest.raises(FormatError, match="not terminated"):
        list(read_delta(unterminated))


def test_delta_forms_and_zip(tmp_path: Path) -> None:
    import zipfile

    a, b = "AB" * 32, "cd" * 32
    sql = (
        "BEGIN TRANSACTION;\n"
        f"INSERT INTO main.FILE (file_name, sha256, sha1, md5, crc32, file_size, package_id)"
        f" VALUES ('it''s.dll', '{a}', 'x', 'y', 'z', 1, 2), ('n', '{b}', 'x', 'y', 'z', 1, 3);\n"
        f"DELETE FROM \"FILE\" WHERE sha256 IN ('{a}', '{b}');\n"
        "INSERT INTO MFG VALUES (9, 'Synthetic');\n"
        "COMMIT;\n"
    )
    path = tmp_path / "RDS_2026.12.1_modern_minimal_delta.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("RDS_2026.12.1_modern_minimal.schema.sql", "CREATE TABLE FILE (sha256 TEXT);")
        zf.writestr("RDS_2026.12.1_modern_minimal_delta.sql", sql)
    ops = [(op.op, op.digest.hex()) for op in read_delta(path)]
    assert ops == [("add", a.lower()), ("add", b), ("drop", a.lower()), ("drop", b)]


def test_known_good_list_and_the_benign_set(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    ev, listed, other = _device(tmp_path)
    ingest(sqlite_case, ev, IngestOptions(device_id="D015", workers=1))
    md5s = tmp_path / "icons.txt"
    md5s.write_text(f"{listed[0].md5}\n{listed[0].md5}\n{listed[1].md5}\n")
    res = import_hashset(sqlite_case, md5s, algorithm="md5", disposition="known-good")
    assert res.disposition == "known-good" and res.entries == 2
    assert _queue(sqlite_case) == {listed[2].sha256} | {k.sha256 for k in other}
    vpdq_like = tmp_path / "pdq.txt"
    vpdq_like.write_text("f" * 64 + "\n")
    with pytest.raises(FormatError, match="MD5, SHA-1 or SHA-256.*pdq"):
        import_hashset(sqlite_case, vpdq_like, algorithm="pdq", disposition="known-good")

    runner = CliRunner()
    env = {"TESSERA_CASE": str(sqlite_case.directory), "TESSERA_USER": "rita"}
    r = runner.invoke(
        cli, ["hashset", "mark-benign", "--sha256", other[0].sha256, "--note", "sticker"], env=env
    )
    assert r.exit_code == 0, r.output
    assert "1 added" in r.stdout
    assert _queue(sqlite_case) == {listed[2].sha256} | {k.sha256 for k in other[1:]}
    assert mark_benign(sqlite_case, "rita", [other[0].sha256]) == []  # already in it
    with sqlite_case.session() as s:
        entry = s.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "known-benign"))
        assert entry is not None and entry.subject == other[0].sha256 and entry.user == "rita"
    r = runner.invoke(cli, ["hashset", "mark-benign", "--sha256", "xyz"], env=env)
    # (main() turns these into one line and exit code 2; the runner calls the app beneath it)
    assert isinstance(r.exception, StoreError) and "not a SHA-256" in str(r.exception)

    r = runner.invoke(cli, ["hashset", "known", "--device", "D015", "--format", "json"], env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["known_good_excluded"]["files"] == 3
    assert {f["sha256"] for f in doc["files"]} == {listed[0].sha256, listed[1].sha256, other[0].sha256}
    sets = {h["name"]: h for h in hashset_summary(sqlite_case)}
    assert sets["local-benign"]["disposition"] == "known-good"
    assert sets["local-benign"]["entries"] == 1 and sets["icons"]["by_algorithm"] == {"md5": 3}
    # The benign set has no source file: the report says so rather than printing "None".
    html = tmp_path / "report.html"
    r = runner.invoke(cli, ["report", "--format", "html", "--out", str(html)], env=env)
    assert r.exit_code == 0, r.output
    page = html.read_text(encoding="utf-8")
    assert "local-benign" in page and "none (made in the case)" in page and ">None<" not in page


def test_cli_imports_an_rds_and_shows_the_exclusions(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    ev, listed, _other = _device(tmp_path)
    ingest(sqlite_case, ev, IngestOptions(device_id="D015", workers=1))
    odd = tmp_path / "NSRL #3 ?%20"  # a URI to SQLite: each of these must be escaped
    odd.mkdir()
    rds = write_rds3(odd / "RDS_2026.09.1_modern_minimal.db", 1000, known=listed, seed=8)
    runner = CliRunner()
    env = {"TESSERA_CASE": str(sqlite_case.directory)}
    r = runner.invoke(cli, ["hashset", "import", str(rds), "--name", "nsrl"], env=env)
    assert r.exit_code == 0, r.output
    assert "known-good digests" in r.stdout and "as nsrl-rds3 2026.09.1" in r.stdout
    r = runner.invoke(cli, ["hashset", "known"], env=env)
    assert r.exit_code == 0, r.output
    assert "known-good excluded: 5 files" in r.stdout
    html = tmp_path / "report.html"
    r = runner.invoke(cli, ["report", "--format", "html", "--out", str(html)], env=env)
    assert r.exit_code == 0, r.output
    assert "kept but left out of these counts: 5 files" in html.read_text()
    delta = write_delta(tmp_path / "delta.sql", deletes=[(listed[0].sha256, 201, listed[0].name)])
    r = runner.invoke(cli, ["hashset", "apply-delta", "nsrl", str(delta)], env=env)
    assert r.exit_code == 0, r.output
    assert "removed 1" in r.stdout and "digests that left the set 1" in r.stdout
    assert "statements passed over: BEGIN 1, COMMIT 1" in r.stdout
    bad = tmp_path / "bad.sql"
    bad.write_text("UPDATE FILE SET md5 = 'x';\n")
    r = runner.invoke(cli, ["hashset", "apply-delta", "nsrl", str(bad)], env=env)
    assert isinstance(r.exception, FormatError) and "line 1" in str(r.exception)
    r = runner.invoke(cli, ["hashset", "import", str(rds), "--name", "as-bad", "--known-bad"], env=env)
    assert r.exit_code == 0, r.output
    assert "matches with media already in the case" in r.stdout


def test_migration_0015_matches_the_model(case: CaseHandle) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tessera.store.models import Base

    with case.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "known_hash" in repr(d)] == []


@pytest.mark.slow
def test_a_million_row_rds_imports_and_excludes_the_device_files(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    """The acceptance size: 1,000,000 generated rows (the bench times it; here it is shown to work)."""
    ev, listed, other = _device(tmp_path)
    ingest(sqlite_case, ev, IngestOptions(device_id="D015", workers=1))
    rds = write_rds3(tmp_path / "rds.db", 1_000_000 - len(listed), known=listed, seed=16)
    res = import_hashset(sqlite_case, rds, name="nsrl")
    assert res.entries == len({r[0] for r in invented_rows(1_000_000 - len(listed), 16)}) + len(listed)
    assert _queue(sqlite_case) == _new(sqlite_case) == {k.sha256 for k in other}
    with sqlite_case.session() as s:
        stats = device_stats(s, "D015")
    assert stats["files"] == 3 and stats["known_good_excluded"]["files"] == 5


def test_workstation_leaves_a_benign_item_out_and_says_so(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tessera.review import create_app
    from tests.review.conftest import sign_in
    from tests.review.helpers import build_case

    built = build_case(sqlite_case, tmp_path)
    assert mark_benign(sqlite_case, "rita", [built.singles[0]], "an app icon") == [built.singles[0]]
    with TestClient(create_app(sqlite_case)) as client:
        sign_in(client, "rita")
        board = client.get("/")
        assert board.status_code == 200
        assert "<b>1</b> known-good, left out" in board.text
        queue = client.get("/review")
        assert queue.status_code == 200
        assert built.singles[0] not in queue.text and built.singles[1] in queue.text


def test_a_full_build_imports_like_a_minimal_one(case: CaseHandle, tmp_path: Path) -> None:
    minimal = write_rds3(tmp_path / "minimal.db", 3000, seed=21)
    full = write_rds3(tmp_path / "full.db", 3000, seed=21, build="full")
    a = import_hashset(case, minimal, name="minimal")
    b = import_hashset(case, full, name="full")
    assert a.entries == b.entries == len({r[0] for r in invented_rows(3000, 21)})
    with case.session() as s:
        sets = {h.name: h for h in s.scalars(select(m.HashSet))}
        assert sets["full"].meta["build"] == "full" and sets["minimal"].meta["build"] == "minimal"
        digests = {
            name: set(s.scalars(select(KnownHash.digest).where(KnownHash.hashset_id == hs.id)))
            for name, hs in sets.items()
        }
    assert digests["full"] == digests["minimal"]
