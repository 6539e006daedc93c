"""VICS round trips through real cases (SQLite and PostgreSQL): a generated set imported into case A,
exported, imported into case B and exported again loses nothing, field by field."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tessera.hashsets._common import snake
from tessera.report.hashset_export import SetExport, export_set_icse, export_set_vics
from tessera.store.case import CaseHandle
from tessera.store.db import StoreError
from tessera.synth.hashsets import FULL_FILE_FIELDS, FULL_MEDIA_FIELDS, random_entries, vics_cases, vics_full

from .helpers import read
from .trip import Trip, kind_of, new_case, round_trip

ENTRIES = list(random_entries(9, seed=21))
VERSIONS = ("2.0", "1.3")


def _vics(version: str) -> Any:
    def export(case: CaseHandle, name: str, out: Path) -> SetExport:
        return export_set_vics(case, name, out, version)

    return export


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def trips(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trip]:
    """One round trip per data model version, and one of items with every optional field absent."""
    kind = request.param
    if kind == "postgresql" and not request.getfixturevalue("pg_ok"):
        pytest.skip("PostgreSQL not reachable")
    root = tmp_path_factory.mktemp(kind)
    files = {v: (vics_full(ENTRIES, v), v) for v in VERSIONS}
    files["sparse"] = (vics_full(ENTRIES, "2.0", sparse=True), "2.0")
    files["cases"] = (vics_cases(ENTRIES, "2.0", per_case=4), "2.0")
    with ExitStack() as stack:
        a = stack.enter_context(new_case(kind, root / "a"))
        b = stack.enter_context(new_case(kind, root / "b"))
        return {
            label: round_trip(a, b, data, ".json", _vics(version), root / label, name=label)
            for label, (data, version) in files.items()
        }


def _media(doc: bytes) -> list[dict[str, Any]]:
    return list(json.loads(doc.decode("utf-8-sig"))["value"])


def _items(doc: bytes) -> list[dict[str, Any]]:
    """What the importer makes of each media item: the reader's view, which field spellings,
    text booleans and where PhotoDNA sits do not change."""
    items: dict[str, dict[str, Any]] = {}
    for r in read(doc)[1]:
        it = items.setdefault(str(r.media_key), {"category": r.category, "series": r.series, **r.extra})
        it["victim_identified"] = r.victim_identified
        it.setdefault(r.algorithm, []).append(r.value)
    return list(items.values())


def _meaning(item: dict[str, Any], field: str) -> Any:
    if field in ("MD5", "SHA1", "PhotoDNA"):
        return item.get(field.lower())
    if field == "AlternativeHashes":
        return item.get("sha256"), item.get("pdq"), item.get("alternative_hashes")
    if field == "Exifs":
        return item.get("exif")
    key = snake(field)
    return item.get(key), item.get(key + "_raw")


@pytest.mark.parametrize("version", VERSIONS)
def test_second_export_is_the_first_byte_for_byte(trips: dict[str, Trip], version: str) -> None:
    t = trips[version]
    assert t.first == t.second
    assert t.results[0].items == t.results[1].items == len(ENTRIES)
    assert not t.results[0].withheld and not t.results[0].not_written and not t.results[0].skipped


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("field", FULL_MEDIA_FIELDS)
def test_media_field_survives(trips: dict[str, Trip], version: str, field: str) -> None:
    t = trips[version]
    first, second = _media(t.first), _media(t.second)
    assert all(field in m for m in first), f"{field} lost in the first export"
    assert [m[field] for m in first] == [m.get(field) for m in second]
    assert [_meaning(i, field) for i in _items(t.original)] == [_meaning(i, field) for i in _items(t.first)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("field", FULL_FILE_FIELDS)
def test_media_file_field_survives(trips: dict[str, Trip], version: str, field: str) -> None:
    t = trips[version]
    first = [f for m in _media(t.first) for f in m["MediaFiles"]]
    second = [f for m in _media(t.second) for f in m["MediaFiles"]]
    assert len(first) == 2 * len(ENTRIES) and all(field in f for f in first), f"MediaFiles.{field} lost"
    assert [f[field] for f in first] == [f.get(field) for f in second]
    key = snake(field)
    want = [(f.get(key), f.get(key + "_raw")) for i in _items(t.original) for f in i["media_files"]]
    assert want == [(f.get(key), f.get(key + "_raw")) for i in _items(t.first) for f in i["media_files"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_media_id_and_category_profile_kept(trips: dict[str, Trip], version: str) -> None:
    t = trips[version]
    docs = [_media(d) for d in (t.original, t.first, t.second)]
    for field in ("MediaID", "Category"):
        assert [m[field] for m in docs[0]] == [m[field] for m in docs[1]] == [m[field] for m in docs[2]]
    assert t.profiles == ("vics-us", "vics-us")
    if version == "2.0":
        assert json.loads(t.first)["@odata.context"].endswith("/2.0.xml/US/$metadata#Media")


def test_absent_fields_stay_absent(trips: dict[str, Trip]) -> None:
    t = trips["sparse"]
    assert t.first == t.second
    for media in _media(t.first):
        # Nothing invented: no flag, series or date appears that the source did not have.
        assert set(media) == {"MediaID", "Category", "MD5"} and media["Category"] is None


def test_cases_file_exported_as_media(trips: dict[str, Trip]) -> None:
    """MediaIDs repeat across the cases of a #Cases file: the unique media key stands in, with the
    item's CaseID beside it."""
    t = trips["cases"]
    assert t.first == t.second
    media = _media(t.first)
    assert [m["MediaID"] for m in media] == [f"{i // 4 + 1}:{e['media_id']}" for i, e in enumerate(ENTRIES)]
    cases = [c["CaseID"] for c in json.loads(t.original.decode("utf-8-sig"))["value"]]
    assert [m["CaseID"] for m in media] == [cases[i // 4] for i in range(len(ENTRIES))]


def test_round_trips_on_the_case_fixture(case: CaseHandle, tmp_path: Path) -> None:
    """The round trip on the ``case`` fixture's database; a UK-scheme set keeps its scheme (and is
    never written as 1.x, which knows the US scheme only); the set written as ICSE counts what ICSE
    has no column for instead of dropping it unsaid."""
    with new_case(kind_of(case), tmp_path / "b") as b:
        t = round_trip(case, b, vics_full(ENTRIES, "2.0"), ".json", _vics("2.0"), tmp_path / "us")
        uk = round_trip(
            case, b, vics_full(ENTRIES, "2.0", variant="UK"), ".json", _vics("2.0"), tmp_path, "uk"
        )
    assert t.first == t.second
    assert uk.first == uk.second and uk.profiles == ("vics-uk", "vics-uk")
    assert json.loads(uk.first)["@odata.context"].endswith("/2.0.xml/UK/$metadata#Media")
    assert [m["Category"] for m in _media(uk.first)] == [e["category"] for e in ENTRIES]
    with pytest.raises(StoreError, match="no VICS 1.3 category scheme"):
        export_set_vics(case, "uk", tmp_path / "uk-1.3.json", "1.3")

    result = export_set_icse(case, "set", tmp_path / "set.csv")
    assert result.items == len(ENTRIES)
    categorised = sum(e["category"] is not None for e in ENTRIES)
    assert result.not_written["category"] == categorised
    assert result.not_written["comments"] == result.not_written["media_files"] == len(ENTRIES)
    rows = read((tmp_path / "set.csv").read_bytes())[1]
    assert {r.value for r in rows if r.algorithm == "md5"} == {e["md5"] for e in ENTRIES}


def test_content_fields_are_withheld(case: CaseHandle, tmp_path: Path) -> None:
    doc = json.loads(vics_full(ENTRIES[:2], "1.3").decode("utf-8-sig"))
    for media in doc["value"]:
        media["Miniature"] = "AAAA"  # a 1.x thumbnail slot: a stand-in value, never file content here
        media["MediaFiles"][0]["Thumbnail"] = "AAAA"
    src = tmp_path / "with-thumbs.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    from tessera.ingest.importer import import_hashset

    import_hashset(case, src, name="thumbs")
    result = export_set_vics(case, "thumbs", tmp_path / "out.json", "1.3")
    text = (tmp_path / "out.json").read_text(encoding="utf-8")
    assert "Miniature" not in text and "Thumbnail" not in text
    assert result.withheld == {"miniature": 2, "media_files.thumbnail": 2}
