from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tessera.hashing import digest, hash_item
from tessera.records import Opener


def _expected(data: bytes) -> tuple[str, str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [0, 1, 511, 4096, 1_000_003])
def test_digests_equal_hashlib_for_data_and_path(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    for opener in (Opener(data=data), Opener(path=str(path))):
        rec = hash_item(opener)
        assert (rec.md5, rec.sha1, rec.sha256) == _expected(data)
        assert rec.size == size
        assert rec.kind == "other"


def test_streaming_path_for_big_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lower the in-memory limit instead of writing 64 MiB; also exercises multi-chunk reads.
    monkeypatch.setattr(digest, "MAX_IN_MEMORY", 1000)
    monkeypatch.setattr(digest, "CHUNK", 4096)
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(50_000)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    digests, held, head = digest.read_path(str(path))
    assert held is None
    assert (digests.md5, digests.sha1, digests.sha256) == _expected(data)
    assert digests.size == len(data)
    assert head == data[: len(head)] and len(head) >= 512
    rec = hash_item(Opener(path=str(path)))
    assert rec.kind == "image" and rec.error  # decoded from the path: garbage after the signature


def test_big_image_decodes_from_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tessera.synth.images import photo_jpeg

    data = photo_jpeg(3, 640, 480)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    in_memory = hash_item(Opener(path=str(path)))
    monkeypatch.setattr(digest, "MAX_IN_MEMORY", 1000)
    streamed = hash_item(Opener(path=str(path)))
    assert streamed == in_memory
    assert streamed.pdq is not None and streamed.error is None


def test_read_only_file_and_noatime_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ro.bin"
    path.write_bytes(b"evidence")
    path.chmod(0o444)
    calls: list[int] = []
    real_open = os.open

    def fake_open(p: str, flags: int, *args: int) -> int:
        calls.append(flags)
        if flags & getattr(os, "O_NOATIME", 0):
            raise PermissionError(1, "Operation not permitted")
        assert flags & (os.O_WRONLY | os.O_RDWR) == 0
        return real_open(p, flags, *args)

    monkeypatch.setattr(digest.os, "open", fake_open)
    rec = hash_item(Opener(path=str(path)))
    assert rec.sha256 == hashlib.sha256(b"evidence").hexdigest()
    if getattr(os, "O_NOATIME", 0):
        assert len(calls) == 2  # tried O_NOATIME, fell back silently


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_item(Opener(path=str(tmp_path / "absent")))


def test_empty_opener_rejected() -> None:
    with pytest.raises(ValueError):
        hash_item(Opener())
