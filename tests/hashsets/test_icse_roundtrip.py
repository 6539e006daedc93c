"""ICSE CSV round trips through real cases (SQLite and PostgreSQL): a generated export imported into case
A, exported, imported into case B and exported again keeps all 12 columns, column by column."""

from __future__ import annotations

import base64
import csv
import io
from contextlib import ExitStack
from pathlib import Path

import pytest

from tessera.hashsets.icse_export import ICSE_COLUMNS
from tessera.report.hashset_export import export_set_icse, export_set_vics
from tessera.store.case import CaseHandle
from tessera.synth.hashsets import icse_csv, random_entries

from .helpers import read
from .trip import Trip, kind_of, new_case, round_trip

#: Every cell populated: the generator leaves PhotoDNA, series and the victim flag empty on some rows.
ENTRIES = [
    e
    | {
        "photodna": base64.b64encode(bytes([i]) * 144).decode(),
        "series": f"S-{i}",
        "victim_identified": i % 2 == 0,
    }
    for i, e in enumerate(random_entries(9, seed=5))
]
NOTE = {"Agency Note": "invented note, kept"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def trips(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trip]:
    kind = request.param
    if kind == "postgresql" and not request.getfixturevalue("pg_ok"):
        pytest.skip("PostgreSQL not reachable")
    root = tmp_path_factory.mktemp(kind)
    files = {
        "full": icse_csv(ENTRIES),
        "sparse": icse_csv(ENTRIES, sparse=True),
        "extra": icse_csv(ENTRIES, extra_columns=NOTE),
    }
    with ExitStack() as stack:
        a = stack.enter_context(new_case(kind, root / "a"))
        b = stack.enter_context(new_case(kind, root / "b"))
        return {
            label: round_trip(a, b, data, ".csv", export_set_icse, root / label, name=label)
            for label, data in files.items()
        }


def _rows(doc: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(doc.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_second_export_is_the_first_byte_for_byte(trips: dict[str, Trip]) -> None:
    for label, t in trips.items():
        assert t.first == t.second, label
        assert t.results[0].items == len(ENTRIES) and not t.results[0].not_written, label
        assert t.profiles == ("icse", "icse")


@pytest.mark.parametrize("column", ICSE_COLUMNS)
def test_column_survives(trips: dict[str, Trip], column: str) -> None:
    t = trips["full"]
    original, first, second = (_rows(d) for d in (t.original, t.first, t.second))
    assert list(first[0])[:12] == ICSE_COLUMNS
    assert all(r[column] for r in original), f"the generated set leaves {column} empty"
    # The generator writes what the exporter writes (upper-case hex, Yes/No), so the cells are equal.
    assert [r[column] for r in original] == [r[column] for r in first] == [r[column] for r in second]


@pytest.mark.parametrize("column", ICSE_COLUMNS)
def test_absent_cells_stay_empty(trips: dict[str, Trip], column: str) -> None:
    first = _rows(trips["sparse"].first)
    want = [e["md5"].upper() for e in ENTRIES] if column == "MD5" else [""] * len(ENTRIES)
    assert [r[column] for r in first] == want  # unknown stays unknown: no made-up No or 0


def test_column_beyond_the_twelve_is_kept(trips: dict[str, Trip]) -> None:
    t = trips["extra"]
    first, second = _rows(t.first), _rows(t.second)
    assert list(first[0]) == [*ICSE_COLUMNS, "Agency Note"]
    assert (
        [r["Agency Note"] for r in first] == [r["Agency Note"] for r in second] == [NOTE["Agency Note"]] * 9
    )


def test_icse_set_as_vics_keeps_the_icse_fields(case: CaseHandle, tmp_path: Path) -> None:
    """ICSE -> VICS -> ICSE on the ``case`` fixture's database: the ICSE-only columns travel through
    VICS as fields of their own and come back."""
    src = tmp_path / "icse.csv"
    src.write_bytes(icse_csv(ENTRIES))
    from tessera.ingest.importer import import_hashset

    import_hashset(case, src, name="icse")
    export_set_vics(case, "icse", tmp_path / "via.json", "2.0")
    with new_case(kind_of(case), tmp_path / "b") as b:
        import_hashset(b, tmp_path / "via.json", name="via")
        export_set_icse(b, "via", tmp_path / "back.csv")
    assert _rows((tmp_path / "back.csv").read_bytes()) == _rows(src.read_bytes())
    assert {r.algorithm for r in read((tmp_path / "via.json").read_bytes())[1]} == {"md5", "sha1", "photodna"}
