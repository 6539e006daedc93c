"""Videos through the ingest pipeline: frame hashes stored, known videos and known stills matched."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_video import VideoFrameRow
from tessera.synth.videos import VideoScenario, video_scenario

pytest.importorskip("vpdq")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> VideoScenario:
    return video_scenario(tmp_path_factory.mktemp("videos"))


def _matches(case: CaseHandle, device: str) -> dict[str, dict[str, dict[str, object] | None]]:
    with case.session() as s:
        rows = s.execute(
            select(m.File.locator, m.Match.algorithm, m.Match.detail)
            .join(m.Match, m.Match.sha256 == m.File.sha256)
            .where(m.File.device_id == device)
        ).all()
    out: dict[str, dict[str, dict[str, object] | None]] = {}
    for loc, alg, detail in rows:
        out.setdefault(loc, {})[alg] = detail
    return out


def _check(case: CaseHandle, sc: VideoScenario, device: str) -> None:
    found = _matches(case, device)
    for loc, want in sc.expect.items():
        if want is None:
            assert loc not in found, (loc, found.get(loc))
        else:
            assert want in found.get(loc, {}), (loc, found.get(loc))
    clip = found["/WhatsApp/Media/WhatsApp Video/VID-0002.mp4"]["vpdq"]
    assert clip is not None and float(clip["compared_percent"]) >= 80 > float(clip["query_percent"])  # type: ignore[arg-type]
    still = found["/DCIM/Camera/VID_0003.mp4"]["pdq"]
    assert still is not None and 1.5 <= float(still["seconds"]) <= 2.5  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [0, 2])
def test_known_videos_and_stills_match_during_ingest(
    case: CaseHandle, scenario: VideoScenario, workers: int
) -> None:
    import_hashset(case, scenario.known_vpdq, name="known-videos")
    import_hashset(case, scenario.known_stills, name="known-stills", algorithm="pdq", category=1)
    res = ingest(case, scenario.root, IngestOptions("V1", workers=workers))
    _check(case, scenario, "V1")
    with case.session() as s:
        videos = s.execute(
            select(m.Media.sha256, m.Media.width, m.Media.duration).where(m.Media.kind == "video")
        ).all()
        frames = dict(
            s.execute(select(VideoFrameRow.sha256, func.count()).group_by(VideoFrameRow.sha256)).all()
        )
        bad = s.scalar(select(m.File.error).where(m.File.locator == scenario.corrupt))
    readable = [v for v in videos if v.width]
    assert len(readable) == 5 and all(v.duration and v.duration > 1 for v in readable)
    # Every frame by default: ten a second for these generated videos.
    assert all(frames.get(v.sha256, 0) >= 10 * v.duration - 1 for v in readable)
    assert bad and "video" in bad  # the cut-short file is recorded, the run went on
    assert res.errors >= 1


def test_a_set_imported_after_ingest_matches_stored_frames(
    sqlite_case: CaseHandle, scenario: VideoScenario
) -> None:
    ingest(sqlite_case, scenario.root, IngestOptions("V2", workers=0))
    assert not _matches(sqlite_case, "V2")
    import_hashset(sqlite_case, scenario.known_vpdq, name="known-videos")
    import_hashset(sqlite_case, scenario.known_stills, name="known-stills", algorithm="pdq", category=1)
    _check(sqlite_case, scenario, "V2")


def test_rerun_stores_no_frame_twice(sqlite_case: CaseHandle, scenario: VideoScenario) -> None:
    ingest(sqlite_case, scenario.root, IngestOptions("V3", workers=0))
    with sqlite_case.session() as s:
        before = s.scalar(select(func.count()).select_from(VideoFrameRow))
    ingest(sqlite_case, scenario.root, IngestOptions("V3", workers=0))
    with sqlite_case.session() as s:
        assert s.scalar(select(func.count()).select_from(VideoFrameRow)) == before


def test_exported_videos_import_unchanged_and_match_in_another_case(
    sqlite_case: CaseHandle, scenario: VideoScenario, tmp_path: Path
) -> None:
    from tessera.report.export import export_vpdq
    from tessera.store.case import init_case

    ingest(sqlite_case, scenario.root, IngestOptions("V4", workers=0))
    out = tmp_path / "videos.jsonl"
    assert export_vpdq(sqlite_case, out, scope="all") == 5  # every readable video
    other = init_case(tmp_path / "other", "other", "XX")
    import_hashset(other, out, name="from-first-case")
    ingest(other, scenario.root, IngestOptions("V5", workers=0))
    found = _matches(other, "V5")
    with other.session() as s:
        kinds = dict(s.execute(select(m.File.locator, m.Media.kind).join(m.Media)).all())
    videos = {loc for loc, kind in kinds.items() if kind == "video" and loc != scenario.corrupt}
    assert videos and all({"vpdq", "md5", "sha256"} <= set(found.get(loc, {})) for loc in videos)


def test_cli_sampling_and_no_frames_options(
    sqlite_case: CaseHandle, scenario: VideoScenario, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from tessera.store.case import init_case

    def frames_after(case: CaseHandle, *extra: str) -> int:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "tessera",
                "ingest",
                str(scenario.root),
                "--device",
                "S1",
                "--case",
                str(case.directory),
                "--workers",
                "0",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 1, r.stderr  # the cut-short video is a recorded error
        with case.session() as s:
            return int(s.scalar(select(func.count()).select_from(VideoFrameRow)) or 0)

    # Four generated videos of 4-6 s and the zipped copy: a frame a second is about 25 hashes.
    assert 15 <= frames_after(sqlite_case, "--video-sampling", "1") <= 40
    assert frames_after(init_case(tmp_path / "other", "other", "XX"), "--no-video-frames") == 0
