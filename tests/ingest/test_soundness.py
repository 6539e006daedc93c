"""Forensic soundness of an ingest: evidence untouched (atimes of files and folders included), a root
named through a link, hashing workers that die with the main process, runs left ``running`` by a kill,
the device's source and its evidence hash."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.evidence import EvidenceError
from tessera.ingest.pipeline import IngestOptions, count_tree, ingest
from tessera.ingest.runs import SourceConflict
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_video import ImageVerification
from tessera.synth import disks
from tessera.synth.images import jpeg_bytes
from tessera.synth.trees import make_device_tree

DAY = 86400 * 10**9


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tessera", *args]


def _every_path(root: Path) -> list[bytes]:
    """The root and everything under it, links not followed (listing done before the snapshot)."""
    out = [os.fsencode(root)]
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root), followlinks=False):
        out += [os.path.join(dirpath, n) for n in dirnames + filenames]
    return sorted(out)


def _age(paths: list[bytes]) -> None:
    """Every atime ten days before its mtime: relatime then updates it on any read or listing."""
    for p in paths:
        st = os.lstat(p)
        os.utime(p, ns=(st.st_mtime_ns - 10 * DAY, st.st_mtime_ns), follow_symlinks=False)


def _snapshot(paths: list[bytes]) -> dict[bytes, tuple[int, int, int, int | None, str | None]]:
    """Mode, size, mtime, atime and SHA-256 of each path, by lstat and O_NOATIME reads only (a second
    listing of the tree would itself move the folders' atimes)."""
    snap = {}
    for p in paths:
        st = os.lstat(p)
        digest = None
        # A link's atime moves whenever its target is read (Linux's readlink has no O_NOATIME, the
        # kernel touches it unconditionally); recording the target is worth more than that atime.
        atime = None if stat.S_ISLNK(st.st_mode) else st.st_atime_ns
        if stat.S_ISREG(st.st_mode):
            fd = os.open(p, os.O_RDONLY | os.O_NOATIME)  # the test's own read must not move the atime
            with os.fdopen(fd, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        snap[p] = (st.st_mode, st.st_size, st.st_mtime_ns, atime, digest)
    return snap


def _atime_is_kept_by_this_fs(tmp_path: Path) -> None:
    """The test means something only where a plain read or listing does move an old atime."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "f").write_bytes(b"x")
    _age([os.fsencode(probe), os.fsencode(probe / "f")])
    before = os.stat(probe).st_atime_ns, os.stat(probe / "f").st_atime_ns
    os.listdir(probe)
    (probe / "f").read_bytes()
    if (os.stat(probe).st_atime_ns, os.stat(probe / "f").st_atime_ns) == before:
        pytest.skip("this file system does not update atimes (noatime): nothing to show")


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A device tree (photos, a zip with a tar.gz inside, a link, a broken zip) plus a FAT disk image."""
    tree = make_device_tree(tmp_path / "ev", 41, n_photos=6, n_chat=4)
    if disks.tools_missing():
        pytest.skip(f"missing disk image tools: {disks.tools_missing()}")
    (tree.root / "Images").mkdir()
    disks.fat_image(
        tree.root / "Images/card.dd",
        {"/DCIM/a.jpg": jpeg_bytes(7, 64, 48), "/notes.txt": b"invented\n"},
    )
    return tree.root


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("as root O_NOATIME is granted on every file; as another user only on one's own")


def test_ingest_leaves_every_file_and_folder_byte_mtime_and_atime_identical(
    evidence: Path, tmp_path: Path
) -> None:
    _require_root()
    _atime_is_kept_by_this_fs(tmp_path)
    subprocess.run(_cli("case", "init", str(tmp_path / "case"), "--name", "t", "--agency", "XX"), check=True)
    paths = _every_path(evidence)
    assert any(p.endswith(b"/card.dd") for p in paths) and any(p.endswith(b".zip") for p in paths)
    _age(paths)
    before = _snapshot(paths)
    proc = subprocess.run(
        _cli("ingest", str(evidence), "--device", "S1", "--workers", "2", "--case", str(tmp_path / "case")),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr  # the tree's broken image and cut zip are recorded
    assert _stored_under(tmp_path / "case", "/Images/card.dd!/")  # the image was opened and walked
    assert _stored_under(tmp_path / "case", "/Download/backup.zip!/")
    # The pre-count runs beside the walk and may still be listing as the run ends: run it on its own.
    count_tree(evidence)
    after = _snapshot(paths)
    changed = {
        p: (before.get(p), after.get(p)) for p in set(before) | set(after) if before.get(p) != after.get(p)
    }
    assert not changed, changed
    assert (
        _every_path(evidence) == paths
    )  # nothing created inside the evidence (listed last: it moves atimes)


def _stored_under(case_dir: Path, prefix: str) -> bool:
    import sqlite3

    with sqlite3.connect(case_dir / "case.db") as conn:
        return (
            conn.execute("select count(*) from file where locator like ?", (prefix + "%",)).fetchone()[0] > 0
        )


def test_the_pre_count_lists_folders_without_touching_their_atime(tmp_path: Path) -> None:
    _require_root()
    _atime_is_kept_by_this_fs(tmp_path)
    tree = make_device_tree(tmp_path / "ev", 42, n_photos=3, n_chat=2)
    paths = _every_path(tree.root)
    _age(paths)
    before = _snapshot(paths)
    files, nbytes = count_tree(tree.root)
    assert files == sum(1 for p in paths if not os.path.isdir(p) or os.path.islink(p)) and nbytes > 0
    assert _snapshot(paths) == before


def test_a_root_named_through_a_link_is_followed_once_and_inner_links_never(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    tree = make_device_tree(tmp_path / "ev", 43, n_photos=3, n_chat=2)
    (tree.root / "Download/folder-link").symlink_to(tree.root / "DCIM")  # inside: recorded, not followed
    link = tmp_path / "D5-link"
    link.symlink_to(tree.root)
    res = ingest(sqlite_case, link, IngestOptions("D5", workers=0))
    with sqlite_case.session() as s:
        rows = {f.locator: f for f in s.scalars(select(m.File).where(m.File.device_id == "D5"))}
        dev = s.get(m.Device, "D5")
        # Stored as the folder read, so a link later pointed elsewhere is not taken for this source.
        assert dev is not None and dev.source_path == os.path.realpath(tree.root)
    assert set(rows) == set(tree.locators) | {"/Download/folder-link"}
    assert res.files_new == len(rows)
    for loc in ("/Download/outside-link", "/Download/folder-link"):
        assert rows[loc].is_symlink and rows[loc].sha256 is None
    assert not [loc for loc in rows if loc.startswith("/Download/folder-link/")]
    # The pre-count follows the root the same way.
    assert count_tree(link) == count_tree(tree.root)
    # A dangling root link is one clear error, before anything is stored.
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(EvidenceError, match="link to .*nowhere.*does not exist"):
        ingest(sqlite_case, dangling, IngestOptions("D6", workers=0))


def _children(pid: int) -> set[int]:
    import psutil

    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def test_hashing_workers_die_with_the_main_process_even_on_kill_9(tmp_path: Path) -> None:
    import psutil

    make_device_tree(tmp_path / "ev", 44, n_photos=900, n_chat=100, image_size=(320, 240))
    subprocess.run(_cli("case", "init", str(tmp_path / "case"), "--name", "t", "--agency", "XX"), check=True)
    proc = subprocess.Popen(
        _cli(
            "ingest",
            str(tmp_path / "ev"),
            "--device",
            "K1",
            "--workers",
            "2",
            "--case",
            str(tmp_path / "case"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so a failed test can still clean up the whole group
    )
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            workers = _children(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the pool's workers never started"
        time.sleep(0.5)  # well into hashing
        assert proc.poll() is None, "the ingest ended before it could be killed: make the tree bigger"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as a crash or the OOM killer would
        proc.wait()
        deadline = time.monotonic() + 5
        alive = workers
        while time.monotonic() < deadline and alive:
            alive = {p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"}
            time.sleep(0.1)
        assert not alive, f"workers {sorted(alive)} outlived the killed main process"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_run_left_running_by_a_kill_is_marked_interrupted_by_the_next_run_of_that_device(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    tree = make_device_tree(tmp_path / "ev", 45, n_photos=2, n_chat=1)
    with sqlite_case.session() as s:
        for dev in ("R1", "R2"):
            s.add(m.Device(id=dev, source_path=str(tree.root)))
            s.add(m.IngestRun(device_id=dev, source_path=str(tree.root)))  # as a killed run leaves it
        s.commit()
    res = ingest(sqlite_case, tree.root, IngestOptions("R1", workers=0))
    with sqlite_case.session() as s:
        runs = {(r.device_id, r.id): r.status for r in s.scalars(select(m.IngestRun))}
    assert runs[("R1", res.run_id)] == "complete"
    assert sorted(st for (dev, rid), st in runs.items() if dev == "R1" and rid != res.run_id) == [
        "interrupted"
    ]
    # Another device's run (an ingest-batch beside this one) is left alone: it may well be alive.
    assert [st for (dev, _), st in runs.items() if dev == "R2"] == ["running"]


def test_a_run_ended_by_ctrl_c_is_marked_interrupted_at_once(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    tree = make_device_tree(tmp_path / "ev", 46, n_photos=40, n_chat=2)

    class Interrupting:
        def start(self, total_files: int | None, total_bytes: int | None) -> None: ...

        def advance(self, files: int, nbytes: int) -> None:
            raise KeyboardInterrupt

        def hit(self, hit: object) -> None: ...

    with pytest.raises(KeyboardInterrupt):
        ingest(sqlite_case, tree.root, IngestOptions("C1", workers=0), Interrupting())  # type: ignore[arg-type]
    with sqlite_case.session() as s:
        assert [r.status for r in s.scalars(select(m.IngestRun))] == ["interrupted"]


def test_source_path_is_absolute_and_a_different_source_is_refused(
    sqlite_case: CaseHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_device_tree(tmp_path / "phone", 47, n_photos=2, n_chat=1)
    other = tmp_path / "sdcard"
    (other / "DCIM").mkdir(parents=True)
    (other / "DCIM/sd.jpg").write_bytes(jpeg_bytes(3, 32, 24))
    (other / "Download").mkdir()
    (other / "Download/broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    monkeypatch.chdir(tmp_path)
    ingest(sqlite_case, Path("phone"), IngestOptions("P1", workers=0))
    with sqlite_case.session() as s:
        dev = s.get(m.Device, "P1")
        assert dev is not None and dev.source_path == str(tmp_path / "phone")
        assert {r.source_path for r in s.scalars(select(m.IngestRun))} == {str(tmp_path / "phone")}
    # The same source, by another path (absolute here): a resume.
    again = ingest(sqlite_case, first.root, IngestOptions("P1", workers=0))
    assert again.files_new == 0 and again.files_skipped > 0
    with pytest.raises(SourceConflict, match="--add-source"):
        ingest(sqlite_case, other, IngestOptions("P1", workers=0))
    with sqlite_case.session() as s:
        assert s.scalar(select(m.File.id).where(m.File.locator.like("%sd.jpg"))) is None
    # Added: its files live under /sdcard, next to the phone's own /DCIM and /Download.
    res = ingest(sqlite_case, other, IngestOptions("P1", workers=0, add_source=True))
    assert res.files_new == 2 and not res.primary
    with sqlite_case.session() as s:
        locs = set(s.scalars(select(m.File.locator).where(m.File.device_id == "P1")))
    assert {"/sdcard/DCIM/sd.jpg", "/sdcard/Download/broken.jpg", "/Download/broken.jpg"} <= locs
    # Rerun of the added source (flag or not): a resume; errors stored by the phone's run still count.
    rerun = ingest(sqlite_case, other, IngestOptions("P1", workers=0))
    assert rerun.files_new == 0 and rerun.files_skipped == 2 and rerun.stored_file_errors >= 2
    # A second folder of the same name could collide: refused.
    clash = tmp_path / "elsewhere/sdcard"
    clash.mkdir(parents=True)
    (clash / "x.txt").write_bytes(b"x")
    with pytest.raises(SourceConflict, match="collide"):
        ingest(sqlite_case, clash, IngestOptions("P1", workers=0, add_source=True))


def test_an_added_source_waits_for_the_device_s_unfinished_source(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    tree = make_device_tree(tmp_path / "phone", 48, n_photos=2, n_chat=1)
    with sqlite_case.session() as s:
        s.add(m.Device(id="P2", source_path=str(tree.root)))
        s.add(m.IngestRun(device_id="P2", source_path=str(tree.root), status="interrupted"))
        s.commit()
    (tmp_path / "card").mkdir()
    with pytest.raises(SourceConflict, match="finish the ingest of"):
        ingest(sqlite_case, tmp_path / "card", IngestOptions("P2", workers=0, add_source=True))


def test_an_e01_inside_a_folder_is_verified_but_is_not_the_device_s_evidence_hash(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    if disks.tools_missing():
        pytest.skip(f"missing disk image tools: {disks.tools_missing()}")
    raw = disks.fat_image(tmp_path / "card.dd", {"/a.txt": b"invented\n"})
    folder = tmp_path / "folder"
    folder.mkdir()
    e01 = disks.to_e01(raw, folder / "card")
    ingest(sqlite_case, folder, IngestOptions("F1", workers=0))
    ingest(sqlite_case, e01, IngestOptions("F2", workers=0))
    with sqlite_case.session() as s:
        checks = {(v.device_id, v.locator, v.verified) for v in s.scalars(select(ImageVerification))}
        f1, f2 = s.get(m.Device, "F1"), s.get(m.Device, "F2")
        assert f1 is not None and f2 is not None
        assert f1.evidence_hash is None  # the folder is the evidence item, not the image in it
        assert f2.evidence_hash is not None and f2.evidence_hash.startswith("md5:")
    assert ("F1", "/card.E01", True) in checks and ("F2", "/card.E01", True) in checks
