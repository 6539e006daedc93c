"""vPDQ hash sets: vpdq's per-video frame files and tessera-vpdq JSON Lines."""

from __future__ import annotations

import io
import json

import pytest

from tessera.hashsets import detect_format, open_hashset
from tessera.hashsets.vpdq import frames_value
from tessera.records import FormatError
from tests.conftest import shared_dir

HASHES = shared_dir() / "conformance" / "vpdq" / "hashes"
PDQ = "e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c"


def _read(data: bytes, **kw: object) -> list:  # type: ignore[type-arg]
    return list(open_hashset(io.BytesIO(data), **kw))  # type: ignore[arg-type]


@pytest.mark.skipif(not HASHES.is_dir(), reason="conformance data not found")
def test_the_reference_frame_files_read_as_one_video_each() -> None:
    path = HASHES / "chair-orig-22-sd-bar.txt"
    lines = path.read_text().splitlines()
    assert detect_format(path.read_bytes()[:65536]) == "vpdq"
    (entry,) = _read(path.read_bytes(), category=2)
    assert entry.algorithm == "vpdq" and entry.category == 2
    assert len(entry.extra["frames"]) == len(lines)
    frame, quality, pdq, seconds = lines[5].split(",")
    assert entry.extra["frames"][5] == [int(frame), int(quality), pdq, float(seconds)]


def test_jsonl_videos_with_digests_share_a_media_key() -> None:
    rows = [
        {
            "id": "V1",
            "category": 1,
            "series": "S-1",
            "victim_identified": "true",
            "md5": "A" * 32,
            "frames": [f"0,100,{PDQ},0.0", f"15,90,{PDQ[::-1]},0.5"],
        },
        {"id": "V2", "frames": [f"0,80,{PDQ}"]},
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    assert detect_format(data) == "vpdq"
    entries = _read(data, category=3)
    assert [(e.algorithm, e.media_key, e.category) for e in entries] == [
        ("md5", "V1", 1),
        ("vpdq", "V1", 1),
        ("vpdq", "V2", 3),
    ]
    assert entries[0].value == "a" * 32 and entries[1].victim_identified is True
    assert entries[1].value == frames_value([(0, 100, PDQ, 0.0), (15, 90, PDQ[::-1], 0.5)])


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (f"0,100,{PDQ},0.0\n1,100,{PDQ[:60]},0.1\n".encode(), "line 2"),
        (f"0,100,{PDQ},0.0\n1,101,{PDQ},0.1\n".encode(), "line 2"),
        (
            f'{{"id": "V1", "frames": ["0,100,{PDQ},0"]}}\n{{"id": "V1", "frames": ["x"]}}\n'.encode(),
            "line 2",
        ),
        (f'{{"id": "V1", "frames": ["0,100,{PDQ},0"]}}\n{{"id": "V2", "frames": []}}\n'.encode(), "line 2"),
        (f'{{"id": "V1", "frames": ["0,100,{PDQ},0"]}}\n{{"id": "V2", "frames\n'.encode(), "line 2"),
    ],
)
def test_malformed_input_is_rejected_naming_the_line(data: bytes, where: str) -> None:
    with pytest.raises(FormatError) as err:
        _read(data, fmt="vpdq")
    assert where in str(err.value)
