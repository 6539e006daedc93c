"""The command line as a user runs it: real processes, real files, exit codes and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.synth.hashsets import plain_list, vics_media
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics

MATCH_KEYS = {
    "device",
    "locator",
    "sha256",
    "md5",
    "sha1",
    "algorithm",
    "distance",
    "hashset",
    "matched_value",
    "category",
}


def tessera(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def worked_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    sc = build_scenario(n_known=2, n_unrelated=2)
    tree = make_device_tree(tmp / "D017", 5, plant=sc.plant)
    case = tmp / "case"
    assert tessera("case", "init", str(case), "--name", "Op CLI", "--agency", "XX").returncode == 0
    r = tessera(
        "hashset", "import", str(known_vics(sc, tmp / "known.json")), "--name", "known", "--case", str(case)
    )
    assert r.returncode == 0, r.stderr
    r = tessera(
        "ingest",
        str(tree.root),
        "--device",
        "D017",
        "--kind",
        "phone",
        "--suspect",
        "S01",
        "--workers",
        "2",
        "--case",
        str(case),
    )
    assert r.returncode == 1, r.stderr  # the generated tree holds bad files on purpose
    assert "could not be fully processed" in r.stderr and "D017:/Download/broken.jpg" in r.stderr
    assert "HIT" in r.stderr
    return case, tmp


def test_matches_json_has_spec_fields(worked_case: tuple[Path, Path]) -> None:
    case, _ = worked_case
    r = tessera("matches", "--format", "json", "--case", str(case))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(set(row) >= MATCH_KEYS for row in rows)
    algs = {row["algorithm"] for row in rows}
    assert {"md5", "sha1"} <= algs
    for row in rows:
        assert row["device"] == "D017" and len(row["sha256"]) == 64
        assert isinstance(row["distance"], int) and (
            row["category"] is None or isinstance(row["category"], int)
        )
        if row["algorithm"] in ("md5", "sha1"):
            assert row["distance"] == 0 and row["matched_value"] == row[row["algorithm"]]
    zipped = [r for r in rows if r["locator"] == "/Download/backup.zip!/photos/known0-copy.jpg"]
    assert len(zipped) >= 2  # every matching entry is listed, not only the closest


def test_matches_csv_and_device_filter(worked_case: tuple[Path, Path]) -> None:
    case, _ = worked_case
    r = tessera("matches", "--format", "csv", "--device", "D017", "--case", str(case))
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and set(rows[0]) >= MATCH_KEYS
    r = tessera("matches", "--format", "json", "--device", "NOPE", "--case", str(case))
    assert json.loads(r.stdout) == []


def test_reports(worked_case: tuple[Path, Path]) -> None:
    case, tmp = worked_case
    for fmt in ("html", "json", "csv"):
        out = tmp / f"report.{fmt}"
        r = tessera("report", "--format", fmt, "--out", str(out), "--case", str(case))
        assert r.returncode == 0, r.stderr
    report = json.loads((tmp / "report.json").read_text())
    dev = report["devices"][0]
    assert dev["id"] == "D017" and dev["suspect"] == "S01"
    assert dev["stats"]["matched_media"] >= 2 and dev["stats"]["new_material"] >= 2
    assert dev["stats"]["errors"] >= 1 and dev["problems"]
    assert {h["locator"] for h in dev["hits"]} >= {"/Download/backup.zip!/photos/known0-copy.jpg"}
    html = (tmp / "report.html").read_text()
    assert "D017:/Download/backup.zip!/photos/known0-copy.jpg" in html
    # Self-contained and media-free: no images, scripts or outside references.
    lowered = html.lower()
    for needle in ("<img", "<script", "src=", "http://", "https://", "url("):
        assert needle not in lowered, needle
    lines = list(csv.DictReader(io.StringIO((tmp / "report.csv").read_text())))
    assert {ln["section"] for ln in lines} >= {"summary", "hit", "problem"}


def test_export_vics_reimports(worked_case: tuple[Path, Path]) -> None:
    case, tmp = worked_case
    out = tmp / "new.json"
    r = tessera("export", "vics", "--out", str(out), "--scope", "new", "--case", str(case))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["value"] and all(
        "MD5" in v or "Md5" in v or "md5" in json.dumps(v).lower() for v in data["value"]
    )
    r = tessera("hashset", "import", str(out), "--name", "exported", "--case", str(case))
    assert r.returncode == 0, r.stderr
    r = tessera("hashset", "list", "--format", "json", "--case", str(case))
    assert {"exported", "known"} <= {row["name"] for row in json.loads(r.stdout)}


def test_bad_invocations_exit_2_with_one_line(tmp_path: Path, worked_case: tuple[Path, Path]) -> None:
    case, _ = worked_case
    r = tessera("matches", "--case", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no case at" in r.stderr
    assert "Traceback" not in r.stderr
    bad = tmp_path / "bad.txt"
    content = plain_list([{"md5": "a" * 32}, {"md5": "b" * 32}]) + b"zzzz-not-hex\n"
    bad.write_bytes(content)
    r = tessera("hashset", "import", str(bad), "--case", str(case))
    bad_line = content.count(b"\n")
    assert r.returncode == 2 and f"line {bad_line}" in r.stderr and "Traceback" not in r.stderr, r.stderr
    truncated = tmp_path / "trunc.json"
    full = vics_media([{"md5": f"{i:032x}"} for i in range(50)], version="1.3")
    truncated.write_bytes(full[: len(full) // 2])
    r = tessera("hashset", "import", str(truncated), "--case", str(case))
    assert r.returncode == 2 and "byte" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = tessera("hashset", "list", "--case", str(case))
    assert "bad" not in r.stdout and "trunc" not in r.stdout  # nothing half imported
    r = tessera("ingest", str(tmp_path / "missing"), "--device", "X", "--case", str(case))
    assert r.returncode == 2 and "no such evidence source" in r.stderr
    r = tessera("case", "init", str(case), "--name", "again", "--agency", "XX")
    assert r.returncode == 2 and "already holds a case" in r.stderr
    for bad_args in (["--workers", "abc"], ["--video-sampling", "-1"], []):
        r = tessera(
            "ingest", str(tmp_path), "--case", str(case), *bad_args, *(["--device", "X"] if bad_args else [])
        )
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr


def test_ctrl_c_says_how_to_resume_and_the_rerun_completes(tmp_path: Path) -> None:
    import signal
    import sqlite3
    import time

    from tessera.synth.images import jpeg_bytes

    src = tmp_path / "dev"
    src.mkdir()
    for i in range(600):
        (src / f"IMG_{i:04d}.jpg").write_bytes(jpeg_bytes(i, 640, 480))
    case = tmp_path / "case"
    assert tessera("case", "init", str(case), "--name", "c", "--agency", "XX").returncode == 0
    cmd = [
        sys.executable,
        "-m",
        "tessera",
        "ingest",
        str(src),
        "--device",
        "D1",
        "--case",
        str(case),
        "--workers",
        "1",
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # interrupt once the first files are stored
        with sqlite3.connect(case / "case.db") as db:
            if db.execute("select count(*) from file").fetchone()[0] > 0:
                break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "run the same command again to resume" in err, (p.returncode, err)
    with sqlite3.connect(case / "case.db") as db:
        assert [r[0] for r in db.execute("select status from ingest_run")] == ["interrupted"]
    r = tessera("ingest", str(src), "--device", "D1", "--case", str(case), "--workers", "1")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(case / "case.db") as db:
        assert db.execute("select count(*), count(distinct locator) from file").fetchone() == (600, 600)
        assert [r[0] for r in db.execute("select status from ingest_run order by id")] == [
            "interrupted",
            "complete",
        ]


def test_a_rerun_exits_1_while_the_device_holds_stored_file_errors(tmp_path: Path) -> None:
    from tessera.synth.images import jpeg_bytes

    src = tmp_path / "dev"
    src.mkdir()
    (src / "good.jpg").write_bytes(jpeg_bytes(1, 64, 48))
    (src / "broken.jpg").write_bytes(jpeg_bytes(2, 64, 48)[:300])
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "good.jpg").write_bytes(jpeg_bytes(1, 64, 48))
    case = tmp_path / "case"
    assert tessera("case", "init", str(case), "--name", "c", "--agency", "XX").returncode == 0
    first = tessera("ingest", str(src), "--device", "E1", "--case", str(case), "--workers", "0")
    assert first.returncode == 1 and "1 file(s) could not be fully processed" in first.stderr, first.stderr
    again = tessera("ingest", str(src), "--device", "E1", "--case", str(case), "--workers", "0")
    assert "0 files stored, 2 already stored (resumed)" in again.stdout, again.stdout
    assert again.returncode == 1, again.stderr  # this run found nothing new, the device still holds it
    assert "1 file(s) of E1 stored with errors by an earlier run" in again.stderr
    ok = tessera("ingest", str(clean), "--device", "E2", "--case", str(case), "--workers", "0")
    ok_again = tessera("ingest", str(clean), "--device", "E2", "--case", str(case), "--workers", "0")
    assert (ok.returncode, ok_again.returncode) == (0, 0), ok_again.stderr


def test_a_different_source_for_a_device_is_refused_unless_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from tessera.synth.images import jpeg_bytes

    for name in ("phone", "sdcard"):
        (tmp_path / name / "DCIM").mkdir(parents=True)
        (tmp_path / name / "DCIM/a.jpg").write_bytes(jpeg_bytes(len(name), 64, 48))
    case = tmp_path / "case"
    assert tessera("case", "init", str(case), "--name", "c", "--agency", "XX").returncode == 0
    monkeypatch.chdir(tmp_path)  # a relative source path is stored absolute
    assert tessera("ingest", "phone", "--device", "P1", "--case", str(case), "--workers", "0").returncode == 0
    r = tessera("ingest", "sdcard", "--device", "P1", "--case", str(case), "--workers", "0")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--add-source" in r.stderr, r.stderr
    assert str(tmp_path / "phone") in r.stderr and "Traceback" not in r.stderr
    r = tessera("ingest", "sdcard", "--device", "P1", "--add-source", "--case", str(case), "--workers", "0")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(case / "case.db") as db:
        assert db.execute("select source_path from device").fetchall() == [(str(tmp_path / "phone"),)]
        assert sorted(x[0] for x in db.execute("select locator from file")) == [
            "/DCIM/a.jpg",
            "/sdcard/DCIM/a.jpg",
        ]
        assert {x[0] for x in db.execute("select source_path from ingest_run")} == {
            str(tmp_path / "phone"),
            str(tmp_path / "sdcard"),
        }


def test_a_case_database_that_cannot_be_used_is_one_line_naming_it(tmp_path: Path) -> None:
    case = tmp_path / "case"
    assert tessera("case", "init", str(case), "--name", "c", "--agency", "XX").returncode == 0
    (case / "case.db").unlink()
    (case / "case.db").mkdir()  # SQLite cannot open a folder: OperationalError
    r = tessera("matches", "--case", str(case))
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "case database" in r.stderr and "could not be used" in r.stderr and str(case) in r.stderr
