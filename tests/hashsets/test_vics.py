"""VICS JSON import: versions, #Media and #Cases, and the quirks of real exports."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tessera.hashsets import open_hashset
from tessera.records import FormatError
from tessera.synth.hashsets import random_entries, vics_cases, vics_media

from .helpers import MD5, SHA1, SHA256, read, vics_doc

ENTRIES = list(random_entries(30, seed=7))


def _expected(
    entries: list[dict], algs: tuple[str, ...] = ("md5", "sha1", "sha256", "pdq")
) -> set[tuple[str, str]]:
    out = {(alg, e[alg]) for e in entries for alg in algs}
    out |= {("photodna", e["photodna"]) for e in entries if e["photodna"]}
    return out


@pytest.mark.parametrize("version", ["1.1", "1.2", "1.3", "2.0"])
@pytest.mark.parametrize("bom", [True, False])
def test_media_every_version(version: str, bom: bool) -> None:
    data = vics_media(ENTRIES, version, bom=bom)
    assert data.startswith(b"\xef\xbb\xbf") == bom
    info, recs = read(data)
    assert (info.format, info.version, info.kind, info.profile) == ("vics", version, "media", "vics-us")
    assert {(r.algorithm, r.value) for r in recs} == _expected(ENTRIES)
    key = "odata_context" if version == "2.0" else "odata_metadata"
    assert info.metadata[key].endswith("#Media")


@pytest.mark.parametrize("version", ["1.3", "2.0"])
def test_cases_file(version: str) -> None:
    data = vics_cases(ENTRIES, version, per_case=12)
    info, recs = read(data)
    assert (info.version, info.kind) == (version, "cases")
    assert {(r.algorithm, r.value) for r in recs} == _expected(ENTRIES)
    cases = info.metadata["cases"]
    assert [c["case_number"] for c in cases] == ["SYN-0001", "SYN-0002", "SYN-0003"]
    # A field written after the Media array still reaches the header facts.
    assert [c["total_media_files"] for c in cases] == [12, 12, 6]
    assert cases[0]["source_application_name"] == "tessera-synth"
    first_case = [r for r in recs if r.extra["case_id"] == cases[0]["case_id"]]
    assert {r.value for r in first_case if r.algorithm == "md5"} == {e["md5"] for e in ENTRIES[:12]}
    # MediaIDs are unique per case only, so the key carries the case number.
    assert {r.media_key for r in recs if r.value == ENTRIES[13]["md5"]} == {"2:1013"}


def test_upper_case_hex_is_lowered_and_entries_share_media_key() -> None:
    info, recs = read(vics_media(ENTRIES[:1], upper=True))
    assert all(r.value == r.value.lower() for r in recs if r.algorithm != "photodna")
    assert {r.media_key for r in recs} == {"1000"}
    assert {r.algorithm for r in recs} == {"md5", "sha1", "sha256", "pdq", "photodna"}


def test_string_booleans_dates_and_null_categories() -> None:
    item = {
        "MediaID": 7,
        "Category": None,
        "MD5": MD5.upper(),
        "SHA1": SHA1,
        "VictimIdentified": "True",
        "OffenderIdentified": "false",
        "IsDistributed": True,
        "DateUpdated": "/Date(1262304000000+0100)/",
        "Comments": "invented note",
        "MediaSize": "2048",
        "RelativeFilePath": "a\\b.jpg",
        "UnknownVendorField": 3,
    }
    info, recs = read(vics_doc([item]))
    md5 = next(r for r in recs if r.algorithm == "md5")
    assert md5.value == MD5
    assert md5.category is None
    assert md5.victim_identified is True
    assert md5.extra["offender_identified"] is False
    assert md5.extra["is_distributed"] is True
    assert md5.extra["date_updated"] == "2010-01-01T00:00:00Z"
    assert md5.extra["date_updated_raw"] == "/Date(1262304000000+0100)/"
    assert md5.extra["comments"] == "invented note"
    assert md5.extra["unknown_vendor_field"] == 3
    assert md5.media_key == "7"
    assert next(r for r in recs if r.algorithm == "sha1").extra == md5.extra


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, 1), ("2", 2), (0, 0), (None, None), ("", None), (17, 17), (-1, -1)],
)
def test_category_kept_as_given(raw: object, expected: int | None) -> None:
    _, recs = read(vics_doc([{"MD5": MD5, "Category": raw}]))
    assert recs[0].category == expected


def test_photodna_kept_opaque_top_level_and_alternative_hashes() -> None:
    opaque = "AbC+/=" * 32 + " "
    items = [
        {"MediaID": 1, "MD5": MD5, "PhotoDNA": opaque},
        {
            "MediaID": 2,
            "SHA1": SHA1,
            "AlternativeHashes": [
                {"HashName": "PhotoDNA", "HashValue": "1,2,3,255"},
                {"HashName": "SHA256", "HashValue": SHA256.upper()},
                {"HashName": "VendorHash", "HashValue": "zz"},
            ],
        },
    ]
    _, recs = read(vics_doc(items, key="@odata.context", version="2.0"))
    photo = [r.value for r in recs if r.algorithm == "photodna"]
    assert photo == [opaque, "1,2,3,255"]
    sha256 = next(r for r in recs if r.algorithm == "sha256")
    assert (sha256.value, sha256.media_key) == (SHA256, "2")
    assert sha256.extra["alternative_hashes"] == [{"hash_name": "VendorHash", "hash_value": "zz"}]


def test_keys_are_case_insensitive_and_series_object() -> None:
    item = {
        "mediaid": 5,
        "md5": MD5,
        "CATEGORY": "3",
        "series": {"Name": "Series X"},
        "victimidentified": "no",
    }
    _, recs = read(vics_doc([item]))
    assert (recs[0].category, recs[0].series, recs[0].victim_identified, recs[0].media_key) == (
        3,
        "Series X",
        False,
        "5",
    )


def test_media_files_and_exifs_kept_without_odata_noise() -> None:
    item = {
        "odata.id": f'Media("{MD5}")',
        "MediaFiles@odata.navigationLinkUrl": "/x",
        "MD5": MD5,
        "MediaFiles": [
            {
                "MD5": MD5.upper(),
                "FileName": "f.jpg",
                "FilePath": "d",
                "Deleted": "true",
                "Written": "/Date(0)/",
            }
        ],
        "Exifs": [{"MD5": MD5, "PropertyName": "Make", "PropertyValue": "Invented"}],
    }
    _, recs = read(vics_doc([item]))
    assert len(recs) == 1
    extra = recs[0].extra
    assert "odata_id" not in extra and not any("navigation" in k for k in extra)
    assert extra["media_files"] == [
        {
            "md5": MD5.upper(),
            "file_name": "f.jpg",
            "file_path": "d",
            "deleted": True,
            "written": "1970-01-01T00:00:00Z",
            "written_raw": "/Date(0)/",
        }
    ]
    assert extra["exif"] == {"Make": "Invented"}


def test_hash_only_in_media_files_is_used() -> None:
    _, recs = read(vics_doc([{"MediaID": 1, "MediaFiles": [{"MD5": MD5, "FileName": "f"}]}]))
    assert [(r.algorithm, r.value) for r in recs] == [("md5", MD5)]


def test_missing_media_id_uses_entry_index() -> None:
    _, recs = read(vics_doc([{"MD5": MD5}, {"SHA1": SHA1}]))
    assert [r.media_key for r in recs] == ["#1", "#2"]


def test_info_is_ready_before_iteration_and_reader_is_single_use() -> None:
    reader = open_hashset(io.BytesIO(vics_media(ENTRIES[:2], "2.0")))
    assert reader.info.version == "2.0"
    list(reader)
    with pytest.raises(RuntimeError):
        list(reader)


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.97])
def test_truncated_file_rejected_with_offset(cut: float) -> None:
    data = vics_media(ENTRIES)
    truncated = data[: int(len(data) * cut)]
    with pytest.raises(FormatError) as err:
        read(truncated)
    assert "truncated" in str(err.value)
    assert err.value.where is not None
    assert f"byte {len(truncated)}" in err.value.where
    assert "entry " in err.value.where


def test_truncated_between_entries_is_not_a_clean_end() -> None:
    data = vics_doc([{"MD5": MD5}, {"SHA1": SHA1}])
    truncated = data[: data.index(b"}") + 1]  # ends right after the first entry
    with pytest.raises(FormatError, match="truncated") as err:
        read(truncated)
    assert "entry 2" in str(err.value)


def test_truncated_cases_file_rejected() -> None:
    data = vics_cases(ENTRIES, per_case=10)
    with pytest.raises(FormatError, match="truncated") as err:
        read(data[: len(data) // 2])
    assert err.value.where is not None and "case 2" in err.value.where


def test_truncated_header_rejected() -> None:
    with pytest.raises(FormatError, match="truncated"):
        read(b'{"odata.metadata":"http://github.com/ICMEC/ProjectVic/DataMod', "vics")


def test_bad_hex_names_the_entry() -> None:
    items = [{"MD5": MD5}, {"MD5": MD5}, {"MD5": MD5[:-1]}]
    with pytest.raises(FormatError, match="32 hex digits") as err:
        read(vics_doc(items))
    assert err.value.where is not None and err.value.where.startswith("entry 3, byte ")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"SHA1": "g" * 40}, "40 hex digits"),
        ({"MD5": MD5, "Category": "one"}, "not an integer"),
        ({"MD5": MD5, "VictimIdentified": "perhaps"}, "not a boolean"),
        ({"Category": 1}, "no MD5"),
        ("not an object", "not an object"),
    ],
)
def test_bad_entries_rejected(item: object, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read(vics_doc([item]))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"value": []}', "no odata"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"odata.metadata": "http://x/DataModels/1.3.xml#Media", "value": {}}', "not an array"),
        (b'{"odata.metadata": "http://x/DataModels/1.3.xml#Files", "value": []}', "entity set"),
        (b'{"odata.metadata": "http://x/DataModels/1.3.xml#Media"}', "no 'value'"),
        (b'{"odata.metadata": "http://x/DataModels/1.3.xml#Media", "value": [{"MD5": 1}]}', "not a string"),
    ],
)
def test_bad_documents_rejected(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read(data, "vics")


def test_trailing_garbage_rejected() -> None:
    with pytest.raises(FormatError, match="malformed"):
        read(vics_doc([{"MD5": MD5}]) + b" {")


def test_cases_trailing_garbage_and_fields_after_value() -> None:
    data = vics_cases(ENTRIES[:2]).rstrip()
    info, _ = read(data[:-1] + b',"odata.count": 1}')
    assert info.metadata["odata_count"] == 1
    with pytest.raises(FormatError, match="malformed"):
        read(data + b"]")


def test_cases_file_declared_as_media_gets_a_hint() -> None:
    data = vics_cases(ENTRIES[:2]).replace(b"#Cases", b"#Media")
    with pytest.raises(FormatError, match="is the file #Cases"):
        read(data)


def test_non_seekable_stream() -> None:
    data = vics_media(ENTRIES, "2.0")

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._buf = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self._buf.read(min(len(b), 1000))
            b[: len(chunk)] = chunk
            return len(chunk)

    reader = open_hashset(io.BufferedReader(Pipe()))
    assert {(r.algorithm, r.value) for r in reader} == _expected(ENTRIES)


def test_extra_is_json_serialisable() -> None:
    _, recs = read(vics_media(ENTRIES, "1.3") + b"")
    json.dumps([r.extra for r in recs])
