"""ICSE CSV and headed CSV import."""

from __future__ import annotations

import pytest

from tessera.records import FormatError
from tessera.synth.hashsets import ICSE_HEADER, headed_csv, icse_csv, random_entries

from .helpers import MD5, SHA1, SHA256, read

ENTRIES = list(random_entries(20, seed=11))


@pytest.mark.parametrize("bom", [False, True])
def test_icse_export(bom: bool) -> None:
    info, recs = read(icse_csv(ENTRIES, bom=bom))
    assert (info.format, info.profile) == ("icse", "icse")
    got = {(r.algorithm, r.value) for r in recs}
    want = {(a, e[a]) for e in ENTRIES for a in ("md5", "sha1")} | {
        ("photodna", e["photodna"]) for e in ENTRIES if e["photodna"]
    }
    assert got == want
    first = [r for r in recs if r.media_key == str(ENTRIES[1]["media_id"])]
    assert {r.algorithm for r in first} == {"md5", "sha1"}
    assert all(r.category is None for r in recs)  # ICSE has no category column
    e1 = first[0]
    assert e1.victim_identified is ENTRIES[1]["victim_identified"]
    assert e1.extra["is_distributed"] is False and e1.extra["offender_identified"] is False
    assert e1.extra["number_of_submissions"] == 2
    assert e1.extra["media_type"] == "Image"
    series = next(r for r in recs if r.value == ENTRIES[0]["md5"])
    assert series.series == ENTRIES[0]["series"]


def test_icse_header_case_insensitive_category_option_and_extra_column() -> None:
    header = ICSE_HEADER.lower().replace("victim identified", "VICTIM  IDENTIFIED") + ";Agency Note"
    row = f"{MD5.upper()};;;IMG-1;yes;Y;n;;3;;Video;;invented"
    info, recs = read(f"{header}\n{row}\n".encode(), category=1)
    assert info.format == "icse"
    assert info.metadata["assigned_category"] == 1
    (rec,) = recs
    assert (rec.algorithm, rec.value, rec.category, rec.victim_identified) == ("md5", MD5, 1, True)
    assert rec.media_key == "IMG-1"
    assert rec.extra == {
        "media_id": "IMG-1",
        "is_distributed": True,
        "offender_identified": False,
        "number_of_submissions": 3,
        "media_type": "Video",
        "agency_note": "invented",
    }


def test_icse_short_rows_are_padded_and_photodna_opaque() -> None:
    data = f"{ICSE_HEADER}\n;{SHA1};0,1,2,3 ;X\n".encode()
    _, recs = read(data)
    assert [(r.algorithm, r.value) for r in recs] == [("sha1", SHA1), ("photodna", "0,1,2,3 ")]


def test_icse_bad_line_named() -> None:
    rows = [f"{MD5};{SHA1};;{i};No;No;No;;1;Yes;Image;No" for i in range(5)]
    rows[3] = f"{MD5}0;{SHA1};;3;No;No;No;;1;Yes;Image;No"
    data = "\n".join([ICSE_HEADER, "", *rows]).encode()  # blank line 2 still counts
    with pytest.raises(FormatError, match="32 hex digits") as err:
        read(data)
    assert err.value.where == "line 6"


def test_icse_bad_flag_named() -> None:
    data = f"{ICSE_HEADER}\n{MD5};;;1;sometimes\n".encode()
    with pytest.raises(FormatError, match="not a boolean") as err:
        read(data)
    assert err.value.where == "line 2"


def test_headed_csv_any_case_any_order_extra_columns() -> None:
    data = headed_csv(
        ENTRIES, ("series", "Category", "sha256", "MD5"), extra_columns={"Source": "inv"}, header_case="as-is"
    )
    info, recs = read(data)
    assert info.format == "csv" and info.metadata["delimiter"] == ","
    assert {(r.algorithm, r.value) for r in recs} == {(a, e[a]) for e in ENTRIES for a in ("md5", "sha256")}
    by_md5 = {r.value: r for r in recs if r.algorithm == "md5"}
    for e in ENTRIES:
        rec = by_md5[e["md5"]]
        assert rec.category == e["category"]  # empty cells are None, never a default
        assert rec.series == e["series"]
        assert rec.extra == {"source": "inv"}


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_headed_csv_delimiters(delimiter: str) -> None:
    data = headed_csv(ENTRIES[:3], ("md5", "sha1"), delimiter=delimiter, header_case="lower")
    info, recs = read(data)
    assert info.format == "csv" and info.metadata["delimiter"] == delimiter
    assert len(recs) == 6


def test_headed_csv_quoted_fields_and_category_option() -> None:
    data = f'sha1,note\n{SHA1},"a, ""quoted"" note"\n'.encode()
    info, recs = read(data, category=2)
    assert recs[0].extra == {"note": 'a, "quoted" note'}
    assert recs[0].category == 2
    assert recs[0].media_key == "line-2"


def test_headed_csv_hash_column_needs_algorithm_for_64_digits() -> None:
    data = f"hash,category\n{SHA256},1\n".encode()
    with pytest.raises(FormatError, match="SHA-256 or PDQ") as err:
        read(data)
    assert err.value.where == "line 2"
    _, recs = read(data, algorithm="pdq")
    assert (recs[0].algorithm, recs[0].value, recs[0].category) == ("pdq", SHA256, 1)
    _, recs = read(f"Hash\n{MD5.upper()}\n{SHA1}\n".encode())
    assert [r.algorithm for r in recs] == ["md5", "sha1"]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("md5,category\nx,1\n", "line 2", "32 hex digits"),
        (f"md5,category\n{MD5},1\n{MD5},one\n", "line 3", "not an integer"),
        (f"md5,category\n{MD5},1\n\n{MD5},1,extra\n", "line 4", "fields"),
        (f"md5,series\n{MD5},x\n,series only\n", "line 3", "no hash"),
        (f'md5,series\n{MD5},"unclosed\n', "line 2", "malformed CSV"),
    ],
)
def test_headed_csv_bad_line_named(body: str, line: str, message: str) -> None:
    with pytest.raises(FormatError, match=message) as err:
        read(body.encode(), "csv")
    assert err.value.where == line


def test_csv_without_hash_column_refused() -> None:
    with pytest.raises(FormatError, match="no hash column"):
        read(b"name,category\nx,1\n", "csv")


def test_windows_1252_text() -> None:
    data = f"md5,series\n{MD5},Caf\xe9\n".encode("cp1252")
    info, recs = read(data)
    assert info.metadata["encoding"] == "cp1252"
    assert recs[0].series == "Caf\xe9"


def test_invalid_utf8_after_head_is_reported_by_line() -> None:
    rows = "".join(f"{MD5},s\n" for _ in range(7000))  # > 64 KiB of clean UTF-8 first
    data = f"md5,series\n{rows}".encode() + MD5.encode() + b",\xff\n"
    with pytest.raises(FormatError, match="not valid utf-8") as err:
        read(data)
    assert err.value.where == "line 7002"
