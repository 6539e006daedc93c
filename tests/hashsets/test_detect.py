"""Automatic format detection and the registry."""

from __future__ import annotations

import io

import pytest

from tessera.hashsets import FORMATS, detect_format, open_hashset
from tessera.records import FormatError
from tessera.synth.hashsets import (
    ICSE_HEADER,
    headed_csv,
    icse_csv,
    plain_list,
    random_entries,
    vics_cases,
    vics_media,
)

from .helpers import MD5, read

ENTRIES = list(random_entries(5, seed=2))


def test_registry_names() -> None:
    assert FORMATS.names() == ["csv", "icse", "list", "nsrl-rds3", "vics", "vpdq"]


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (vics_media(ENTRIES, "1.3"), "vics"),
        (vics_media(ENTRIES, "2.0", bom=False), "vics"),
        (vics_cases(ENTRIES, "1.2"), "vics"),
        (b'  \n{"@odata.context": "x#Media", "value": []}', "vics"),
        (icse_csv(ENTRIES), "icse"),
        (icse_csv(ENTRIES, bom=True), "icse"),
        (headed_csv(ENTRIES), "csv"),
        (headed_csv(ENTRIES, ("sha1", "category"), delimiter=";"), "csv"),  # ; but not ICSE
        (b"\xef\xbb\xbfMD5\n" + MD5.encode() + b"\n", "csv"),
        (plain_list(ENTRIES), "list"),
        (plain_list(ENTRIES, "sha1", comments=False, upper=True, bom=True), "list"),
    ],
)
def test_auto_detection(data: bytes, fmt: str) -> None:
    assert detect_format(data[: 64 * 1024]) == fmt
    info, _ = read(data)
    assert info.format == fmt


def test_icse_header_wins_over_generic_csv() -> None:
    assert FORMATS.get("csv").sniff(ICSE_HEADER.encode())  # a generic reader would accept it too...
    assert detect_format(ICSE_HEADER.encode() + b"\n") == "icse"  # ...but the specific one is tried first


def test_explicit_format_overrides_sniffing() -> None:
    info, recs = read(f"md5\n{MD5}\n".encode(), "csv")
    assert info.format == "csv" and len(recs) == 1
    with pytest.raises(FormatError, match="not a hex hash"):
        read(f"md5\n{MD5}\n".encode(), "list")


@pytest.mark.parametrize(
    "data",
    [b'{"some": "json"}', b"name,size\nx,1\n", b"hello world\n", b"\x00\x01\x02binary"],
)
def test_unrecognised_file_names_the_problem(data: bytes) -> None:
    with pytest.raises(FormatError, match="unrecognised hash-set format"):
        read(data)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b" \n\n"])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(FormatError, match="empty"):
        read(data)


def test_unknown_format_name() -> None:
    with pytest.raises(FormatError, match="unknown hash-set format 'nsrl'"):
        open_hashset(io.BytesIO(b"x"), "nsrl")


def test_stream_position_is_left_for_the_reader() -> None:
    stream = io.BytesIO(plain_list(ENTRIES))
    reader = open_hashset(stream)
    assert stream.tell() == 0
    assert len(list(reader)) == len(ENTRIES)
