"""ingest-batch: a whole seizure list, devices in parallel, the same case as ingesting them one by one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tessera.ingest.batch import ManifestError, ManifestRow, read_manifest, run_batch
from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tessera.store.queries import iter_matches
from tessera.synth.network import make_network
from tessera.synth.seizures import write_seizures
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics

HEADER = "device,kind,suspect,source\n"


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four small devices under one folder (with known material planted on each) and a hash set."""
    tmp = tmp_path_factory.mktemp("batch-evidence")
    sc = build_scenario(n_known=2, n_unrelated=1, size=(320, 240))
    for n in range(4):
        make_device_tree(tmp / "ev" / f"D{n}", 80 + n, n_photos=20 + 10 * n, plant=sc.plant)
    return tmp / "ev", known_vics(sc, tmp / "known.json")


def write_manifest(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def device_state(case: CaseHandle, device: str) -> tuple[set[tuple[str, str | None]], int, int]:
    with case.session() as s:
        files = {
            (loc, sha)
            for loc, sha in s.execute(select(m.File.locator, m.File.sha256).where(m.File.device_id == device))
        }
        errors = s.scalar(select(func.count()).where(m.File.device_id == device, m.File.error.is_not(None)))
        return files, len(list(iter_matches(s, device))), errors or 0


def case_totals(case: CaseHandle) -> dict[str, int]:
    with case.session() as s:
        return {
            t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
            for t in (m.File, m.Media, m.Match, m.Account, m.Chat, m.Message, m.MessagingSource)
        }


def test_batch_equals_one_by_one_and_resumes(tmp_path: Path, trees: tuple[Path, Path]) -> None:
    ev, known = trees
    # Relative sources are taken from the manifest's folder, whatever the working directory.
    manifest = write_manifest(
        ev / "seizures.csv", HEADER + "D0,phone,S1,D0\nD1,computer,,./D1\nD2,tablet,S2,D2\nD3,storage,,D3\n"
    )
    rows = read_manifest(manifest)
    assert [(r.device, r.kind, r.suspect, r.source) for r in rows][:2] == [
        ("D0", "phone", "S1", ev / "D0"),
        ("D1", "computer", None, ev / "D1"),
    ]
    one = init_case(tmp_path / "one", "one by one", "XX")
    import_hashset(one, known, name="known")
    singles = {r.device: ingest(one, r.source, IngestOptions(r.device, kind=r.kind, workers=2)) for r in rows}

    case = init_case(tmp_path / "batch", "batch", "XX")
    import_hashset(case, known, name="known")
    outcomes = run_batch(case, rows, parallel=3, workers=2)
    assert [o.row.device for o in outcomes] == ["D0", "D1", "D2", "D3"]
    for o in outcomes:
        assert o.error is None and o.result is not None and o.status == "errors"  # the trees' bad files
        assert o.result.files_new == singles[o.row.device].files_new
        assert o.result.errors == singles[o.row.device].errors
        assert device_state(case, o.row.device) == device_state(one, o.row.device)
        assert device_state(case, o.row.device)[1] > 0  # the planted known images matched
    assert case_totals(case) == case_totals(one)
    with case.session() as s:
        dev = s.get(m.Device, "D0")
        assert dev is not None and (dev.kind, dev.suspect, dev.source_path) == ("phone", "S1", str(ev / "D0"))

    again = run_batch(case, rows, parallel=2, workers=2)  # the rerun resumes: everything is skipped
    for o, first in zip(again, outcomes, strict=True):
        assert o.result is not None and first.result is not None
        assert o.result.files_new == 0 and o.result.files_skipped == first.result.files_new
    assert case_totals(case) == case_totals(one)
    one.close()
    case.close()


def test_one_failing_device_does_not_stop_the_others(tmp_path: Path, trees: tuple[Path, Path]) -> None:
    ev, _ = trees
    case = init_case(tmp_path / "holder" / "case", "b", "XX")
    # A source that holds the case directory is refused when its ingest starts (spool files must
    # never land in evidence): that device fails, the others run.
    rows = [
        ManifestRow(2, "D0", "phone", None, ev / "D0"),
        ManifestRow(3, "BAD", "storage", None, tmp_path / "holder"),
        ManifestRow(4, "D1", "phone", None, ev / "D1"),
    ]
    outcomes = run_batch(case, rows, parallel=2, workers=0)  # in-process hashing in each device thread
    assert [o.status for o in outcomes] == ["errors", "failed", "errors"]
    assert outcomes[1].error is not None and "inside the evidence" in outcomes[1].error
    with case.session() as s:
        assert s.get(m.Device, "BAD") is None
        assert s.scalar(select(func.count()).select_from(m.File).where(m.File.device_id == "D1")) > 0
    case.close()


def test_seizures_with_chats_in_parallel_equal_one_by_one(tmp_path: Path, case: CaseHandle) -> None:
    """Phones whose chat databases share accounts and groups: stored concurrently, the same entities
    (on SQLite and on PostgreSQL, where two devices must not both create one account)."""
    net = make_network(4, n_people=16, n_wa_groups=2, n_tg_groups=1, n_items=6, n_posts=80)
    evidence = write_seizures(net, tmp_path / "seized")
    rows = [ManifestRow(n + 2, e.seizure.device, e.kind, None, e.path) for n, e in enumerate(evidence)]
    assert len(rows) >= 3
    one = init_case(tmp_path / "one", "one by one", "XX")
    for r in rows:
        ingest(one, r.source, IngestOptions(r.device, kind=r.kind, workers=0))
    outcomes = run_batch(case, rows, parallel=len(rows), workers=2)
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
    assert all(o.result and not o.result.errors for o in outcomes), [o.result for o in outcomes]
    assert case_totals(case) == case_totals(one)
    one.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + "D0,phone,,D0\nD1,phone,,D0\nD0,storage,,D1\n",
            "line 4: device D0 is listed twice (first on line 2)",
        ),
        (HEADER + "D0,phone,,D0\nD1,watch,,D1\n", "line 3: kind 'watch' is not one of phone, computer"),
        (HEADER + "D0,phone,,D0\n\nD1,phone,,missing\n", "line 4: no such evidence source: "),
        (HEADER + "D0,phone,,D0,extra\n", "line 2: 5 fields, the header has 4"),
        (HEADER + ",phone,,D0\n", "line 2: empty device id"),
        ("device,kind,owner,source\nD0,phone,,D0\n", "line 1: unknown column 'owner'"),
        ("device,kind,suspect\nD0,phone,\n", "line 1: missing column(s) source"),
        ("D0,phone,,D0\n", "line 1: unknown column 'd0'"),
        (HEADER, "no devices listed"),
        ("", "no header"),
        (HEADER + "D0,phone,,D0\nD1,watch,,D1\nD2,phone,,nowhere\n", "line 3: kind 'watch' is not one of"),
    ],
)
def test_malformed_manifest_is_rejected_whole(trees: tuple[Path, Path], text: str, message: str) -> None:
    ev, _ = trees
    path = write_manifest(ev / "bad.csv", text)
    with pytest.raises(ManifestError) as exc:
        read_manifest(path)
    assert message in str(exc.value) and "nothing was ingested" in str(exc.value)
    if "nowhere" in text:
        assert "(and 1 more problem(s))" in str(exc.value)


def test_manifest_spreadsheet_dialects(trees: tuple[Path, Path]) -> None:
    ev, _ = trees
    # A BOM, semicolons, columns in another order and in capitals, the optional columns left out.
    path = ev / "excel.csv"
    path.write_bytes("\ufeffSource;Device\r\nD0;D0\r\n".encode())
    assert read_manifest(path) == [ManifestRow(2, "D0", "storage", None, ev / "D0")]
    quoted = write_manifest(ev / "quoted.csv", 'device,source\n"D 1","D1"\n')
    assert read_manifest(quoted)[0].device == "D 1"
