"""Hashing on a Dask cluster (a real LocalCluster of worker processes) gives the same case as local."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from distributed import LocalCluster
from sqlalchemy import func, select

from tessera.ingest.executors import EXECUTORS, DaskExecutor, ExecutorError, open_executor
from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tessera.store.queries import iter_matches
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics

DEVICES = ("D1", "D2", "D3")


@dataclass
class Snapshot:
    files: dict[str, set[tuple[str, str | None]]]  # device -> (locator, sha256)
    matches: dict[str, list[tuple[str, str, str]]]  # device -> (locator, hash set, algorithm)
    media: int
    match_rows: int
    errors: int

    @property
    def file_count(self) -> dict[str, int]:
        return {dev: len(rows) for dev, rows in self.files.items()}


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    tmp = tmp_path_factory.mktemp("dask-evidence")
    sc = build_scenario(n_known=2, n_unrelated=2, size=(320, 240))
    roots = {
        dev: make_device_tree(tmp / dev, 60 + n, n_photos=40 + 20 * n, n_chat=20, plant=sc.plant).root
        for n, dev in enumerate(DEVICES)
    }
    return roots, known_vics(sc, tmp / "known.json")


def new_case(directory: Path, known: Path) -> CaseHandle:
    handle = init_case(directory, "Op Dask", "XX-TEST")
    import_hashset(handle, known, name="known")
    return handle


def snapshot(case: CaseHandle) -> Snapshot:
    """Everything the acceptance compares: per-device files and matches, media, match rows."""
    with case.session() as s:
        return Snapshot(
            files={
                dev: {
                    (loc, sha)
                    for loc, sha in s.execute(
                        select(m.File.locator, m.File.sha256).where(m.File.device_id == dev)
                    )
                }
                for dev in DEVICES
            },
            matches={
                dev: sorted(
                    (str(r["locator"]), str(r["hashset"]), str(r["algorithm"])) for r in iter_matches(s, dev)
                )
                for dev in DEVICES
            },
            media=s.scalar(select(func.count()).select_from(m.Media)) or 0,
            match_rows=s.scalar(select(func.count()).select_from(m.Match)) or 0,
            errors=s.scalar(select(func.count()).select_from(m.File).where(m.File.error.is_not(None))) or 0,
        )


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory, evidence: tuple[dict[str, Path], Path]) -> Snapshot:
    # Made before the cluster exists: the local pool forks, best done while no Dask threads run here.
    roots, known = evidence
    case = new_case(tmp_path_factory.mktemp("local") / "case", known)
    for dev, root in roots.items():
        ingest(case, root, IngestOptions(dev, workers=2))
    snap = snapshot(case)
    case.close()
    return snap


@pytest.fixture(scope="module")
def cluster(local_run: Snapshot) -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        yield c


def test_dask_run_equals_local_run(
    tmp_path: Path, evidence: tuple[dict[str, Path], Path], local_run: Snapshot, cluster: LocalCluster
) -> None:
    roots, known = evidence
    case = new_case(tmp_path / "case", known)
    for dev, root in roots.items():
        res = ingest(case, root, IngestOptions(dev, executor="dask", scheduler=cluster.scheduler_address))
        assert res.files_new == local_run.file_count[dev] and res.files_skipped == 0
    got = snapshot(case)
    assert got.file_count == local_run.file_count
    assert (got.media, got.match_rows, got.errors) == (
        local_run.media,
        local_run.match_rows,
        local_run.errors,
    )
    assert got.files == local_run.files  # identical (locator, sha256) pairs, device by device
    assert got.matches == local_run.matches
    assert all(got.matches[dev] for dev in DEVICES)
    case.close()


def test_dask_run_stopped_then_resumed(
    tmp_path: Path, evidence: tuple[dict[str, Path], Path], local_run: Snapshot, cluster: LocalCluster
) -> None:
    roots, known = evidence
    case = new_case(tmp_path / "case", known)
    # One client for both runs, as a lab's long-lived client would be; ingest leaves it open.
    pool = DaskExecutor.connect(cluster)
    checks = 0

    def stop_soon() -> bool:
        nonlocal checks
        checks += 1
        return checks > 2  # after three batches of 32: part way through the first device

    first = ingest(case, roots["D1"], IngestOptions("D1", pool=pool, workers=2), should_stop=stop_soon)
    total = local_run.file_count["D1"]
    assert 0 < first.files_new < total
    with case.session() as s:
        assert s.scalar(select(m.IngestRun.status).where(m.IngestRun.id == first.run_id)) == "stopped"
    # Resumed (and the other devices run) through the same client.
    again = ingest(case, roots["D1"], IngestOptions("D1", pool=pool, workers=2))
    assert again.files_skipped == first.files_new and again.files_new == total - first.files_new
    for dev in ("D2", "D3"):
        ingest(case, roots[dev], IngestOptions(dev, pool=pool, workers=2))
    assert pool.client.status == "running"  # a pool passed to ingest is the caller's to close
    pool.close()
    assert pool.client.status == "closed"  # ... and the client connect() opened goes with it
    got = snapshot(case)
    assert got.files == local_run.files  # nothing duplicated (natural keys), nothing missing
    assert got.matches == local_run.matches
    assert (got.media, got.match_rows) == (local_run.media, local_run.match_rows)
    case.close()


def test_executor_names_and_refusals(tmp_path: Path, evidence: tuple[dict[str, Path], Path]) -> None:
    assert EXECUTORS.names() == ["dask", "inline", "local"]
    assert open_executor("inline") is None and open_executor("local", workers=0) is None
    with pytest.raises(ExecutorError, match="unknown hashing executor 'spark'"):
        open_executor("spark")
    with pytest.raises(ExecutorError, match="needs a scheduler address"):
        open_executor("dask")
    roots, known = evidence
    case = new_case(tmp_path / "case", known)
    t0 = time.monotonic()
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        ingest(case, roots["D1"], IngestOptions("D1", executor="dask", scheduler="tcp://127.0.0.1:9"))
    assert time.monotonic() - t0 < 30
    with case.session() as s:  # refused before the device or a run was written
        assert s.scalar(select(func.count()).select_from(m.Device)) == 0
        assert s.scalar(select(func.count()).select_from(m.IngestRun)) == 0
    case.close()


def _churn_faults(size: int = 8 << 20, times: int = 20) -> tuple[bool | None, int]:
    """Allocate, fill and free an image-sized buffer repeatedly; the minor page faults that took."""
    import resource

    from tessera.ingest import executors

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        buf = b"x" * size  # malloc + memset: every page touched, as decoding an image does
        del buf
    return executors._malloc_tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


CHURN = """
import sys
from tessera.ingest.executors import tune_malloc
from tests.ingest.test_executors import _churn_faults
if sys.argv[1] == "tune":
    assert tune_malloc()
print(_churn_faults()[1])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tune_malloc_keeps_freed_buffers_mapped() -> None:
    # A fresh process as Dask's nannies start workers: MALLOC_TRIM_THRESHOLD_ set, which turns off
    # glibc's adaptive thresholds, so every 8 MB buffer is a new mmap faulted in page by page.
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONPATH": str(Path(__file__).parents[2])}

    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", CHURN, mode], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    untuned, tuned = faults("plain"), faults("tune")
    assert untuned > 20 * 2000  # 20 buffers of 2,048 pages each
    assert tuned < untuned / 10  # the first buffer's pages only


def test_dask_tasks_run_tuned_with_their_kwargs(cluster: LocalCluster) -> None:
    pool = DaskExecutor.connect(cluster)
    try:
        tuned, faults = pool.submit(_churn_faults, times=20).result(timeout=60)
        assert tuned is True and faults < 20 * 2000 / 10  # kwargs reached the function on the worker
    finally:
        pool.close()
