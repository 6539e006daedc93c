"""Scaling: the same seized devices hashed by the local executor and by a 2-worker Dask LocalCluster.

    python bench/bench_scaling.py [--devices 4] [--photos 500] [--files 1500] [--rounds 2] [--record]

Each device is a generated phone tree (``tessera.synth.trees``: camera and chat JPEGs of 640x480,
archives, junk, two known images planted) plus ``--files`` small app-data files. Every run ingests all
devices into a fresh case (a hash set of the known images and 20,000 invented entries loaded) through
``run_batch`` (what ``tessera ingest-batch`` runs, two devices at a time) with either

* ``local``: one pool of 2 worker processes on this machine, or
* ``dask``: a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` started in its own
  process (as a lab's scheduler would be elsewhere), this process being only the Dask client; and
  ``dask, workers untuned``, the same with ``DaskExecutor.connect(..., tune_malloc=False)`` (the workers'
  allocator as Dask's nannies leave it: what the executor did before it set ``tune_malloc``).

Executors are opened before the clock starts (a lab's cluster is already running); rounds alternate
local and dask. Where the time goes is measured around the pipeline, not inside it: the walk alone
(timed separately), task time on the workers (each batch is wrapped in a timer), the device threads'
time blocked waiting for results, the writer's time (``_Writer.flush``: store + match + commit), and for
Dask the scheduler's task stream (deserialisation and transfer on the workers). Both runs must store
identical files and matches (checked). The worker processes' own CPU time and minor page faults (all
their threads, from /proc) give the per-core cost: files per CPU-second of the hashing processes.
``--record`` appends a section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from machine import summary as machine  # type: ignore[import-not-found]

from tessera.evidence import Limits, iter_evidence
from tessera.hashing import hash_item
from tessera.ingest import pipeline
from tessera.ingest.batch import ManifestRow, run_batch
from tessera.ingest.executors import DaskExecutor, HashingExecutor, LocalExecutor
from tessera.ingest.importer import import_hashset
from tessera.records import Opener
from tessera.store.case import init_case
from tessera.synth.hashsets import random_entries, vics_media
from tessera.synth.images import jpeg_bytes
from tessera.synth.trees import make_device_tree

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "scaling"
WORKERS = 2
#: label -> whether DaskExecutor tunes the workers' malloc ("" for the local process pool).
VARIANTS = {"local": "", "dask, workers untuned": "untuned", "dask": "tuned"}
# Dask's own worker settings (its nannies set MALLOC_TRIM_THRESHOLD_=65536 for their workers).
CLUSTER = f"""
import sys
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers={WORKERS}, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        print(c.scheduler_address, flush=True)
        sys.stdin.read()
"""
T = TypeVar("T")


def _warm_worker() -> None:
    # hash_batch's module brings the pipeline's imports (SQLAlchemy, faiss, ...): about 2 s, once.
    pipeline.hash_batch([(0, Opener(data=jpeg_bytes(1, 64, 48)))], True)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sums: dict[str, float] = defaultdict(float)

    def add(self, key: str, value: float) -> None:
        with self.lock:
            self.sums[key] += value


def _timed_call(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> tuple[Any, float, float, int]:
    """Runs on the worker: the batch's result, its seconds (wall and this thread's CPU), and the bytes
    pickled both ways."""
    t, c = time.perf_counter(), time.thread_time()
    res = fn(*args, **kwargs)
    secs, cpu = time.perf_counter() - t, time.thread_time() - c
    return res, secs, cpu, len(pickle.dumps(args)) + len(pickle.dumps(res))


class _WaitTimed(Future):  # type: ignore[type-arg]
    def __init__(self, stats: Stats) -> None:
        super().__init__()
        self.stats = stats

    def result(self, timeout: float | None = None) -> Any:
        t = time.perf_counter()
        try:
            return super().result(timeout)
        finally:
            self.stats.add("wait", time.perf_counter() - t)


class Timed:
    """Wraps an executor: every batch is timed on its worker and every wait for a result here."""

    def __init__(self, inner: HashingExecutor, stats: Stats) -> None:
        self.inner, self.stats, self.slots = inner, stats, inner.slots

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        outer = _WaitTimed(self.stats)
        inner = self.inner.submit(_timed_call, fn, *args, **kwargs)

        def done(f: Future[tuple[Any, float, float, int]]) -> None:
            try:
                res, secs, cpu, nbytes = f.result()
            except BaseException as exc:  # noqa: BLE001 - handed on to the pipeline as it is
                outer.set_exception(exc)
                return
            self.stats.add("compute", secs)
            self.stats.add("cpu", cpu)
            self.stats.add("bytes", nbytes)
            self.stats.add("tasks", 1)
            outer.set_result(res)

        inner.add_done_callback(done)
        return outer

    def close(self) -> None:
        self.inner.close()


@contextmanager
def timed_writer(stats: Stats) -> Iterator[None]:
    # The storing itself: _Writer._store where the writer stores on a thread of its own, else flush.
    name = "_store" if hasattr(pipeline._Writer, "_store") else "flush"
    original = getattr(pipeline._Writer, name)

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            stats.add("writer", time.perf_counter() - t)

    setattr(pipeline._Writer, name, timed)
    try:
        yield
    finally:
        setattr(pipeline._Writer, name, original)


def make_devices(n: int, photos: int, files: int) -> tuple[list[Path], list[bytes]]:
    known = [jpeg_bytes(777_000 + k, 640, 480) for k in range(2)]
    plant = {f"/WhatsApp/Media/WhatsApp Images/IMG-known-{k}.jpg": data for k, data in enumerate(known)}
    roots = []
    for d in range(n):
        root = OUT / f"D{d + 1}"
        marker = OUT / f"D{d + 1}.complete"
        spec = f"{photos} {files}"
        if not (marker.exists() and marker.read_text() == spec):
            print(f"generating D{d + 1}: {photos} photos, {files} small files ...", flush=True)
            shutil.rmtree(root, ignore_errors=True)
            make_device_tree(
                root, 500 + d, n_photos=photos, n_chat=photos // 3, image_size=(640, 480), plant=plant
            )
            rng = random.Random(d)
            for i in range(files):  # app data and caches: many small files in many folders
                sub = root / "Android" / "data" / f"app{i % 37:02d}" / f"d{i % 50:02d}"
                sub.mkdir(parents=True, exist_ok=True)
                (sub / f"f{i:05d}.dat").write_bytes(rng.randbytes(200 + i % 4000))
            marker.write_text(spec)
        roots.append(root)
    return roots, known


def known_set(known: list[bytes]) -> Path:
    entries = []
    for i, data in enumerate(known):
        rec = hash_item(Opener(data=data))
        entries.append({"md5": rec.md5, "sha1": rec.sha1, "pdq": rec.pdq, "category": 1 + i})
    entries.extend(random_entries(20_000, seed=3))
    out = OUT / "known.json"
    with out.open("wb") as fh:
        vics_media(entries, version="2.0", out=fh)
    return out


def walk_seconds(roots: list[Path]) -> tuple[float, int]:
    t, n = time.perf_counter(), 0
    for root in roots:
        n += sum(1 for _ in iter_evidence(root, Limits(scratch_dir=OUT)))
    return time.perf_counter() - t, n


def proc_cpu(pids: list[int]) -> tuple[float, int]:
    """CPU seconds (user + system, all threads) and minor page faults of these processes so far."""
    secs, faults = 0.0, 0
    for pid in pids:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        secs += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        faults += int(fields[7])
    return secs, faults


def worker_pids(pool: HashingExecutor) -> list[int]:
    if isinstance(pool, DaskExecutor):
        return list(pool.client.run(os.getpid).values())
    assert isinstance(pool, LocalExecutor)
    return list(pool.pool._processes)


def one_run(
    label: str, pool: HashingExecutor, roots: list[Path], known: Path, round_no: int
) -> dict[str, Any]:
    case_dir = OUT / f"case-{label}-{round_no}"
    shutil.rmtree(case_dir, ignore_errors=True)
    case = init_case(case_dir, "bench", "BENCH")
    import_hashset(case, known, name="known")
    rows = [ManifestRow(n + 2, root.name, "phone", None, root) for n, root in enumerate(roots)]
    stats = Stats()
    stream: list[dict[str, Any]] = []
    ctx: Any = nullcontext()
    if isinstance(pool, DaskExecutor):
        from distributed import get_task_stream

        ctx = get_task_stream(pool.client)
    pids = worker_pids(pool)
    with timed_writer(stats), ctx as ts:
        cpu0, faults0 = proc_cpu(pids)
        own0 = proc_cpu([os.getpid()])[0]
        t = time.perf_counter()
        outcomes = run_batch(case, rows, parallel=2, pool=Timed(pool, stats))
        wall = time.perf_counter() - t
        cpu1, faults1 = proc_cpu(pids)
        own = proc_cpu([os.getpid()])[0] - own0
    if ts is not None:
        stream = list(ts.data)
    assert all(o.error is None and o.result for o in outcomes), [o.error for o in outcomes]
    actions: dict[str, float] = defaultdict(float)
    for task in stream:
        for ss in task.get("startstops", []):
            actions[ss["action"]] += ss["stop"] - ss["start"]
    with case.session() as s:
        from sqlalchemy import func, select

        from tessera.store import models as m

        files = s.scalar(select(func.count()).select_from(m.File)) or 0
        matches = s.scalar(select(func.count()).select_from(m.Match)) or 0
        media = s.scalar(select(func.count()).select_from(m.Media)) or 0
        pairs = set(s.execute(select(m.File.device_id, m.File.locator, m.File.sha256)).all())
    case.close()
    shutil.rmtree(case_dir, ignore_errors=True)
    thread_secs = sum(o.elapsed for o in outcomes)
    return {
        "label": label,
        "wall": wall,
        "files": files,
        "matches": matches,
        "media": media,
        "pairs": pairs,
        "device_thread": thread_secs,
        "worker_cpu": cpu1 - cpu0,
        "worker_faults": faults1 - faults0,
        # This process (walk, writer, feeding the pool or the Dask client), not its pool's workers.
        "client_cpu": own,
        "stream": dict(actions),
        **stats.sums,
    }


@contextmanager
def dask_cluster(variant: str) -> Iterator[tuple[DaskExecutor, float]]:
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CLUSTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    address = proc.stdout.readline().strip()
    pool = DaskExecutor.connect(address, timeout=30, tune_malloc=variant == "tuned")
    # Local workers are forked with the hashing code imported; a long-running cluster's workers have
    # imported it with their first batch. Either way, imports are not what is measured.
    pool.client.run(_warm_worker)
    try:
        yield pool, time.perf_counter() - t
    finally:
        pool.close()
        proc.stdin.close()
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--photos", type=int, default=500, help="camera photos per device (+1/3 chat images)")
    ap.add_argument("--files", type=int, default=1500, help="small app-data files per device")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    roots, known_images = make_devices(args.devices, args.photos, args.files)
    known = known_set(known_images)
    subprocess.run(["cat", *map(str, roots)], stderr=subprocess.DEVNULL, check=False)
    walk, n_items = walk_seconds(roots)  # also warms the page cache for both executors
    load = os.getloadavg()[0]
    print(f"{n_items:,} items on {len(roots)} devices; walk alone {walk:.1f} s; load {load:.1f}", flush=True)

    runs: list[dict[str, Any]] = []
    t = time.perf_counter()
    local = LocalExecutor(WORKERS)  # forked first, while this process has no Dask threads
    starts = {"local": time.perf_counter() - t}
    for r in range(args.rounds):
        for label in VARIANTS:
            if label == "local":
                res = one_run(label, local, roots, known, r)
            else:
                # One cluster at a time, so an idle one does not take memory or CPU from the other.
                with dask_cluster(VARIANTS[label]) as (dask, started):
                    starts[label] = started
                    res = one_run(label, dask, roots, known, r)
            print(
                f"round {r + 1} {label}: {res['wall']:.1f} s, {res['files']:,} files, "
                f"{res['matches']} match rows, task time {res.get('compute', 0):.1f} s "
                f"(CPU {res.get('cpu', 0):.1f} s), worker processes {res['worker_cpu']:.1f} s CPU, "
                f"{res['worker_faults']:,} minor faults; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            res["load"], res["round"] = os.getloadavg()[0], r + 1
            runs.append(res)
    local.close()
    base = runs[0]
    for res in runs:
        assert (res["files"], res["matches"], res["media"]) == (base["files"], base["matches"], base["media"])
        assert res["pairs"] == base["pairs"], "local and dask runs must store the same files"
    report(args, runs, walk, n_items, starts, load)


def report(
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    walk: float,
    n_items: int,
    starts: dict[str, float],
    load: float,
) -> None:
    rows = []
    for r in runs:
        busy, cpu = r.get("compute", 0.0), r.get("cpu", 0.0)
        util = busy / (r["wall"] * WORKERS)
        stream = r["stream"]
        dask_cols = (
            f"{stream.get('deserialize', 0.0):.1f} s / {stream.get('transfer', 0.0):.1f} s"
            if r["label"] != "local"
            else "-"
        )
        rows.append(
            f"| {r['round']} | {r['label']} | {r['load']:.1f} | **{r['wall']:.1f} s** "
            f"| {r['files'] / r['wall']:,.0f} "
            f"| {r['worker_cpu']:.1f} s | **{r['files'] / r['worker_cpu']:,.0f}** | {r['worker_faults']:,} "
            f"| {busy:.1f} s (CPU {cpu:.1f} s; {util:.0%} busy) "
            f"| {r.get('bytes', 0) / 1e6:,.0f} MB in {int(r.get('tasks', 0)):,} tasks "
            f"| {r.get('writer', 0.0):.1f} s | {r.get('wait', 0.0):.1f} s | {dask_cols} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    b = runs[0]

    def ratios(label: str) -> tuple[float, float]:
        """Median over rounds of (label against the same round's local): per core, and wall time."""
        per_core, wall = [], []
        for r in range(1, args.rounds + 1):
            loc = next(x for x in runs if x["round"] == r and x["label"] == "local")
            other = next(x for x in runs if x["round"] == r and x["label"] == label)
            per_core.append(loc["worker_cpu"] / other["worker_cpu"])
            wall.append(other["wall"] / loc["wall"])
        return statistics.median(per_core), statistics.median(wall)

    summary = "; ".join(
        f"{label}: **{ratios(label)[0]:.2f}x** per core, wall time {ratios(label)[1]:.2f}x"
        for label in VARIANTS
        if label != "local"
    )
    text = "\n".join(
        [
            f"\n## Scaling: local executor vs 2-worker Dask LocalCluster — {stamp}",
            f"Machine: {machine()}; load average {load:.1f} at the start, per run in the table (other "
            "sessions share these 2 cores: timings are noisy). Command: `python bench/bench_scaling.py "
            + " ".join(sys.argv[1:])
            + "`",
            "",
            f"{args.devices} generated devices, {b['files']:,} files in all (640x480 JPEGs, archives, "
            f"{args.files:,} small app files per device), a hash set of 20,002 entries; `run_batch` (what "
            f"`tessera ingest-batch` runs) two devices at a time; {WORKERS} hashing processes either way "
            f"(Dask: {WORKERS} workers x 1 thread; scheduler, nannies and workers in a separate process "
            f"tree, this process only the client). Rounds interleave the executors. Every run stored "
            f"identical files ({b['files']:,}), media ({b['media']:,}) and match rows ({b['matches']}). "
            "Executor start, not in the timings: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in starts.items())
            + " (Dask: cluster start, connect and worker imports).",
            "",
            "| round | executor | load | wall | files/s | worker processes: CPU | files per worker "
            "CPU-second | minor page faults | task time on workers | shipped (args + results) "
            "| writer: store + match + commit | device threads waiting | Dask deserialise / transfer |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Against local, median of {args.rounds} rounds: {summary}. Per core: files per CPU-second of "
            "the hashing processes (all their threads: for Dask the worker's event loop too). The walk "
            f'alone takes {walk:.1f} s ({n_items:,} items). "busy" is task time over wall time x '
            "workers.",
            "",
        ]
    )
    print(text)
    if args.record:
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
