"""VICS export: what is written reads back with the importer."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tessera.hashsets.vics_export import write_vics
from tessera.records import FormatError
from tessera.synth.hashsets import random_entries

from .helpers import MD5, SHA1, SHA256, read


def _items(n: int) -> list[dict]:
    keep = ("md5", "sha1", "sha256", "pdq", "photodna", "category", "series", "victim_identified", "media_id")
    return [{k: e[k] for k in keep} for e in random_entries(n, seed=9)]


@pytest.mark.parametrize("version", ["1.3", "2.0"])
def test_round_trip(version: str) -> None:
    items = _items(40)
    out = io.BytesIO()
    assert write_vics(out, items, version) == 40
    info, recs = read(out.getvalue())
    assert (info.format, info.version, info.kind) == ("vics", version, "media")
    got = {(r.media_key, r.algorithm, r.value, r.category, r.series, r.victim_identified) for r in recs}
    want = {
        (str(e["media_id"]), alg, e[alg], e["category"], e["series"], e["victim_identified"])
        for e in items
        for alg in ("md5", "sha1", "sha256", "pdq", "photodna")
        if e[alg]
    }
    assert got == want


def test_text_stream_and_metadata_round_trip() -> None:
    item = {
        "md5": MD5,
        "sha1": SHA1,
        "media_id": "M-1",
        "category": 2,
        "is_distributed": True,
        "offender_identified": False,
        "comments": "invented",
        "media_size": 1234,
        "date_updated": datetime(2010, 1, 1, tzinfo=UTC),
        "exif": {"Make": "Invented"},
        "media_files": [
            {
                "file_name": "a.jpg",
                "file_path": "D017/x",
                "deleted": True,
                "created": datetime(2011, 2, 3, 4, 5, 6, tzinfo=UTC),
            }
        ],
    }
    text = io.StringIO()
    write_vics(text, [item], "1.3")
    doc = json.loads(text.getvalue())
    media = doc["value"][0]
    assert media["MD5"] == MD5.upper() and media["DateUpdated"] == "/Date(1262304000000)/"
    assert media["IsDistributed"] == "true"  # 1.x readers expect text flags
    _, recs = read(text.getvalue().encode())
    extra = recs[0].extra
    assert extra["is_distributed"] is True and extra["offender_identified"] is False
    assert extra["date_updated"] == "2010-01-01T00:00:00Z"
    assert extra["media_files"][0]["created"] == "2011-02-03T04:05:06Z"
    assert extra["media_files"][0]["deleted"] is True
    assert extra["exif"] == {"Make": "Invented"}
    assert recs[0].media_key == "M-1"


def test_2_0_writes_typed_flags_and_iso_dates() -> None:
    out = io.StringIO()
    write_vics(
        out, [{"sha256": SHA256, "victim_identified": True, "date_updated": datetime(2020, 5, 6)}], "2.0"
    )
    doc = json.loads(out.getvalue())
    assert doc["@odata.context"].endswith("/2.0.xml/US/$metadata#Media")
    media = doc["value"][0]
    assert media["VictimIdentified"] is True and media["DateUpdated"] == "2020-05-06T00:00:00.000Z"
    assert media["MediaID"] == 1


def test_items_are_streamed() -> None:
    produced = 0

    def items() -> Iterator[dict]:
        nonlocal produced
        for e in _items(5):
            produced += 1
            yield e

    class Probe(io.StringIO):
        def write(self, s: str) -> int:
            writes.append(produced)
            return super().write(s)

    writes: list[int] = []
    write_vics(Probe(), items())
    assert writes[:3] == [0, 1, 2]  # each item is written before the next is asked for


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        ({"md5": MD5, "data": b"..."}, ValueError, "cannot be exported"),
        ({"md5": MD5, "thumbnail": "x"}, ValueError, "cannot be exported"),
        ({"md5": MD5, "media_files": [{"content": "x"}]}, ValueError, "cannot be exported"),
        ({"category": 1}, ValueError, "no MD5"),
        ({"md5": "abc"}, FormatError, "32 hex digits"),
    ],
)
def test_refused_items(item: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        write_vics(io.StringIO(), [item])


def test_unknown_version_refused() -> None:
    with pytest.raises(ValueError, match="unsupported VICS version"):
        write_vics(io.StringIO(), [], "3.0")


def test_empty_export_reads_back_empty() -> None:
    out = io.BytesIO()
    assert write_vics(out, []) == 0
    info, recs = read(out.getvalue())
    assert info.format == "vics" and recs == []


def test_second_values_passthrough_fields_and_photodna_only_items_read_back() -> None:
    other_md5 = "f" * 32
    items = [
        {
            "md5": MD5,
            "more_hashes": [("md5", other_md5)],
            "media_id": "M-1",
            "fields": {"Agency_Ref": "X-1", "PrecategorizationSource": "invented"},
            "media_files": [{"md5": other_md5, "file_name": "b.jpg", "fields": {"PhysicalLocation": 4096}}],
        },
        {"photodna": "opaque,1,2", "media_id": "M-2"},
    ]
    out = io.BytesIO()
    write_vics(out, items, "2.0")
    media = json.loads(out.getvalue())["value"]
    assert media[0]["AlternativeHashes"] == [{"HashName": "MD5", "HashValue": other_md5.upper()}]
    assert media[0]["MediaFiles"] == [
        {"MD5": other_md5.upper(), "FileName": "b.jpg", "PhysicalLocation": 4096}
    ]
    _, recs = read(out.getvalue())
    assert [r.value for r in recs if r.media_key == "M-1" and r.algorithm == "md5"] == [MD5, other_md5]
    assert recs[0].extra["agency_ref"] == "X-1" and recs[0].extra["vics_names"] == {
        "agency_ref": "Agency_Ref"
    }
    assert [(r.algorithm, r.value) for r in recs if r.media_key == "M-2"] == [("photodna", "opaque,1,2")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"Miniature": "AAAA"}, "file content"), ({"MediaID": 3}, "given twice")],
)
def test_passthrough_fields_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_vics(io.StringIO(), [{"md5": MD5, "fields": fields}])


def test_restore_fields_spells_dates_and_flags_per_version() -> None:
    from tessera.hashsets.vics_export import restore_fields

    stored = {
        "date_updated": "2010-01-01T00:00:00Z",
        "is_suspected": True,
        "media_files": [{"created": "2011-02-03T04:05:06Z", "created_raw": "/Date(1296705906000+0100)/"}],
        "source_id": "S",
    }
    v13, withheld = restore_fields(stored, "1.3")
    assert v13 == {
        "DateUpdated": "/Date(1262304000000)/",
        "IsSuspected": "true",
        "MediaFiles": [{"Created": "/Date(1296705906000+0100)/"}],
        "SourceID": "S",
    }
    v20, _ = restore_fields(stored, "2.0")
    assert v20["DateUpdated"] == "2010-01-01T00:00:00Z" and v20["IsSuspected"] is True
    assert v20["MediaFiles"] == [{"Created": "2011-02-03T04:05:06Z"}] and not withheld
