"""Locators split back into their layers: ``!`` in names escaped, repeated member names numbered."""

from __future__ import annotations

import io
import os
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.evidence import Limits, iter_evidence, open_item
from tessera.evidence.base import (
    Layer,
    escape_layer,
    join_locator,
    parse_locator,
    split_locator,
    split_raw_path,
    unescape_layer,
)
from tessera.records import EvidenceItem

_NAME_CHARS = st.sampled_from(list("ab/!#%2135.x ") + ["é", "\\"])
_NAMES = st.text(_NAME_CHARS, max_size=12)


@given(_NAMES)
def test_escape_round_trips(name: str) -> None:
    assert unescape_layer(escape_layer(name)) == name
    assert "!" not in escape_layer(name)


@given(st.lists(st.tuples(_NAMES, st.integers(1, 12)), min_size=1, max_size=4))
def test_parse_undoes_join(raw_layers: list[tuple[str, int]]) -> None:
    layers = [Layer(("" if n == 0 else "/") + name, occ) for n, (name, occ) in enumerate(raw_layers)]
    locator = join_locator(layers)
    assert parse_locator(locator) == layers
    assert split_locator(locator) == [layer.name for layer in layers]


@pytest.mark.parametrize(
    "name",
    ["/Download/photo.jpg", "/a b/c%20d.png", "/track#1.mp3", "/C#/x", "/50%.txt", "/x#y", "/\\xff.bin"],
)
def test_names_without_bang_keep_their_locator(name: str) -> None:
    # Stored locators of earlier runs must stay valid: only "!" (and the rare sequences that would
    # read as escapes or a marker) change.
    assert escape_layer(name) == name and split_locator(name) == [name]


@pytest.mark.parametrize(
    "name,shown",
    [
        ("/a!b.png", "/a%21b.png"),
        ("/photo#2", "/photo%232"),  # would read as "the second photo"
        ("/100%21", "/100%2521"),  # would read as an escaped "!"
        ("/x%2", "/x%2"),
    ],
)
def test_escaped_forms(name: str, shown: str) -> None:
    assert escape_layer(name) == shown and unescape_layer(shown) == name


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": exactly what is tested
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: list[tuple[str, bytes]], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _walk(root: Path, limits: Limits) -> dict[str, EvidenceItem]:
    items: dict[str, EvidenceItem] = {}
    for item in iter_evidence(root, limits):
        assert item.locator not in items, f"two items share {item.locator}"
        items[item.locator] = item
    return items


def _read(item: EvidenceItem) -> bytes:
    assert item.opener is not None
    with open_item(item.opener) as fh:
        return fh.read()


def test_bang_in_file_and_member_names(tmp_path: Path, limits: Limits) -> None:
    ev = tmp_path / "ev"
    (ev / "dir!x").mkdir(parents=True)
    (ev / "dir!x" / "a!b.png").write_bytes(b"png-ish")
    inner = _zip([("x!y.txt", b"inner"), ("sub/!", b"bang only")])
    (ev / "dir!x" / "b!.zip").write_bytes(_zip([("in!ner.zip", inner)]))
    items = _walk(ev, limits)
    assert set(items) == {
        "/dir%21x/a%21b.png",
        "/dir%21x/b%21.zip",
        "/dir%21x/b%21.zip!/in%21ner.zip",
        "/dir%21x/b%21.zip!/in%21ner.zip!/x%21y.txt",
        "/dir%21x/b%21.zip!/in%21ner.zip!/sub/%21",
    }
    deep = items["/dir%21x/b%21.zip!/in%21ner.zip!/x%21y.txt"]
    assert split_locator(deep.locator) == ["/dir!x/b!.zip", "/in!ner.zip", "/x!y.txt"]
    assert deep.raw_path == b"/dir!x/b!.zip!/in!ner.zip!/x!y.txt"  # exact bytes, not escaped
    assert split_raw_path(deep.raw_path, deep.locator) == [b"/dir!x/b!.zip", b"/in!ner.zip", b"/x!y.txt"]
    assert _read(deep) == b"inner"


def test_non_utf8_name_with_bang_splits_exactly(tmp_path: Path, limits: Limits) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    name = b"caf\xe9!.tar"
    with open(os.fsencode(ev) + b"/" + name, "wb") as fh:
        fh.write(_tar([("m!\udcff.bin", b"m")]))  # tarfile writes the lone surrogate as byte 0xff
    items = _walk(ev, limits)
    member = next(i for i in items.values() if i.depth == 1)
    assert member.locator == "/caf\\xe9%21.tar!/m%21\\xff.bin"
    assert split_raw_path(member.raw_path, member.locator) == [b"/" + name, b"/m!\xff.bin"]


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_duplicate_member_names_are_all_kept(tmp_path: Path, limits: Limits, kind: str) -> None:
    members = [
        ("photo.jpg", b"first"),
        ("other.txt", b"o"),
        ("photo.jpg", b"second"),
        ("photo.jpg#2", b"a name that looks like a marker"),
        ("photo.jpg", b"third"),
    ]
    data = _zip(members) if kind == "zip" else _tar(members, "w:gz" if kind == "tar.gz" else "w")
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / f"a.{kind}").write_bytes(data)
    items = _walk(ev, limits)
    base = f"/a.{kind}!"
    got = {loc[len(base) :]: _read(i) for loc, i in items.items() if loc.startswith(base)}
    assert got == {
        "/photo.jpg": b"first",
        "/other.txt": b"o",
        "/photo.jpg#2": b"second",
        "/photo.jpg%232": b"a name that looks like a marker",
        "/photo.jpg#3": b"third",
    }
    assert parse_locator(f"{base}/photo.jpg#3")[-1] == Layer("/photo.jpg", 3)
    assert items[f"{base}/photo.jpg#2"].raw_path == f"/a.{kind}!/photo.jpg".encode()


def test_absolute_and_relative_names_of_one_member_path(tmp_path: Path, limits: Limits) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "x.tar").write_bytes(_tar([("/etc/passwd", b"absolute"), ("etc/passwd", b"relative")]))
    items = _walk(ev, limits)
    first, second = items["/x.tar!/etc/passwd"], items["/x.tar!/etc/passwd#2"]
    assert (_read(first), _read(second)) == (b"absolute", b"relative")
    assert first.raw_path == b"/x.tar!//etc/passwd" and second.raw_path == b"/x.tar!/etc/passwd"
