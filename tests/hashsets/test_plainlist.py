"""Plain hash lists."""

from __future__ import annotations

import pytest

from tessera.records import FormatError
from tessera.synth.hashsets import plain_list, random_entries

from .helpers import MD5, SHA1, SHA256, read

ENTRIES = list(random_entries(10, seed=5))


@pytest.mark.parametrize("algorithm", ["md5", "sha1"])
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("bom", [False, True])
def test_list_by_length(algorithm: str, upper: bool, bom: bool) -> None:
    info, recs = read(plain_list(ENTRIES, algorithm, upper=upper, bom=bom))
    assert info.format == "list"
    assert [(r.algorithm, r.value) for r in recs] == [(algorithm, e[algorithm]) for e in ENTRIES]
    assert all(r.category is None and r.media_key is None for r in recs)


def test_mixed_lengths_comments_blanks_and_category() -> None:
    data = f"# invented\n\n  {MD5.upper()}  \n{SHA1} # trailing note\n   # indented comment\n".encode()
    info, recs = read(data, category=2)
    assert [(r.algorithm, r.value, r.category) for r in recs] == [("md5", MD5, 2), ("sha1", SHA1, 2)]
    assert info.metadata["assigned_category"] == 2


def test_64_hex_digits_refused_without_algorithm() -> None:
    data = plain_list(ENTRIES, "sha256")
    with pytest.raises(FormatError, match="SHA-256 or PDQ") as err:
        read(data)
    assert err.value.where == "line 3"  # after the comment and blank line


@pytest.mark.parametrize("algorithm", ["sha256", "SHA-256", "pdq"])
def test_64_hex_digits_with_algorithm(algorithm: str) -> None:
    info, recs = read(plain_list(ENTRIES, "sha256"), algorithm=algorithm)
    want = algorithm.lower().replace("-", "")
    assert {r.algorithm for r in recs} == {want}
    assert [r.value for r in recs] == [e["sha256"] for e in ENTRIES]
    assert info.metadata["algorithm"] == want


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (MD5[:-1], "31 hex digits"),
        ("xyz" + MD5[3:], "not a hex hash"),
        (MD5 + " file.jpg", "not a hex hash"),
    ],
)
def test_bad_line_named(line: str, message: str) -> None:
    data = f"{MD5}\n\n# note\n{SHA1}\n{line}\n{MD5}\n".encode()
    with pytest.raises(FormatError, match=message) as err:
        read(data)
    assert err.value.where == "line 5"


def test_length_must_match_given_algorithm() -> None:
    with pytest.raises(FormatError, match="40 hex digits") as err:
        read(f"{SHA1}\n{MD5}\n".encode(), "list", algorithm="sha1")
    assert err.value.where == "line 2"


def test_unknown_algorithm_refused() -> None:
    with pytest.raises(FormatError, match="unknown algorithm"):
        read(f"{SHA256}\n".encode(), algorithm="crc32")


def test_comment_only_list_is_empty() -> None:
    info, recs = read(b"# nothing yet\n")
    assert (info.format, recs) == ("list", [])
