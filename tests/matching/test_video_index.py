"""VideoIndex gives exactly vPDQ's brute-force percentages for every known video sharing a frame."""

from __future__ import annotations

import random

from tessera.hashing.video import match_videos
from tessera.matching.video import VideoIndex
from tessera.records import VideoFrame


def _flip(hex_pdq: str, bits: int, rng: random.Random) -> str:
    value = int(hex_pdq, 16)
    for b in rng.sample(range(256), bits):
        value ^= 1 << b
    return f"{value:064x}"


def _video(rng: random.Random, n: int) -> list[VideoFrame]:
    return [
        VideoFrame(i, rng.choice([30, 60, 100]), f"{rng.getrandbits(256):064x}", i / 10) for i in range(n)
    ]


def test_percentages_and_decisions_equal_brute_force() -> None:
    rng = random.Random(7)
    known = [_video(rng, rng.randint(5, 40)) for _ in range(60)]
    index = VideoIndex()
    for i, v in enumerate(known):
        index.add(i, [(f.frame, f.quality, f.pdq, f.seconds) for f in v])
    targets_found = 0
    for target in (3, 17, 42):
        src = known[target]
        changed = [
            VideoFrame(f.frame, f.quality, _flip(f.pdq, rng.randint(0, 25), rng), f.seconds) for f in src
        ]
        # The known video inside a longer one (a compilation), and a clip of its middle third.
        compilation = _video(rng, 10) + changed + _video(rng, 5)
        clip = changed[len(src) // 3 : 2 * len(src) // 3 + 1]
        for query in (compilation, clip):
            found = {
                h.entry: h for h in index.search([(f.frame, f.quality, f.pdq, f.seconds) for f in query])
            }
            for i, v in enumerate(known):
                brute = match_videos(query, v)
                if brute.is_match():
                    assert i in found
                    assert abs(found[i].query_percent - brute.query_percent) < 1e-9
                    assert abs(found[i].compared_percent - brute.compared_percent) < 1e-9
                else:
                    assert i not in found
            if query is compilation:
                targets_found += target in found
    assert targets_found >= 2  # the test must exercise real matches, not only absences
