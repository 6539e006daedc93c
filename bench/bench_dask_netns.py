"""Dask over a network: scheduler, workers and the client each in its own network namespace.

    sudo python bench/bench_dask_netns.py [--devices 4] [--rounds 2] [--timeout 300] [--record]

Needs root (``ip netns``, veth pairs, a bridge); loopback only: a bridge in a namespace of its own
joins one veth per namespace (scheduler 10.213.7.1, client 10.213.7.2, worker N 10.213.7.(10+N)), so
nothing is added to the machine's own network namespace. Every Dask connection (client to scheduler,
scheduler to workers, workers' results to the client) crosses that bridge as TCP, as between machines;
the evidence is read through the shared file system (the shared storage a lab's workers mount).

Each round ingests the devices of ``bench_scaling.py`` (generated there, reused) with 1 and 2 Dask
workers (``dask worker --nthreads 1``, with their nannies, as a lab runs them; a fresh scheduler and
workers for every run) and, for reference, with the local pool of 1 and 2 processes, interleaved.
Every run has a time limit; namespaces and processes are removed at the end whatever happens.
``--record`` appends a section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_scaling as scaling  # type: ignore[import-not-found]
from machine import summary as machine  # type: ignore[import-not-found]

from tessera.ingest.executors import DaskExecutor, LocalExecutor

HERE = Path(__file__).resolve().parent
SUBNET = "10.213.7"
SCHEDULER = f"{SUBNET}.1"
CLIENT = f"{SUBNET}.2"
PORT = 8786
#: Fields of a run the client subprocess hands back (one_run's result, less the set of stored pairs).
FIELDS = (
    "label",
    "wall",
    "files",
    "matches",
    "media",
    "worker_cpu",
    "worker_faults",
    "compute",
    "cpu",
    "tasks",
    "client_cpu",
)


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


class Lan:
    """Network namespaces joined by a bridge; names carry this process's id (several may run)."""

    def __init__(self, hosts: dict[str, str]) -> None:
        self.tag = f"t{os.getpid()}"
        self.hosts = hosts  # role -> address
        self.bridge_ns = f"{self.tag}-lan"
        self.made: list[str] = []

    def ns(self, role: str) -> str:
        return f"{self.tag}-{role}"

    def up(self) -> None:
        sh("ip", "netns", "add", self.bridge_ns)
        self.made.append(self.bridge_ns)
        sh("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        for n, (role, address) in enumerate(self.hosts.items()):
            ns, host_end, bridge_end = self.ns(role), f"{self.tag}h{n}", f"{self.tag}b{n}"
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", bridge_end)
            sh("ip", "link", "set", host_end, "netns", ns)
            sh("ip", "link", "set", bridge_end, "netns", self.bridge_ns)
            sh("ip", "-n", self.bridge_ns, "link", "set", bridge_end, "master", "br0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", host_end, "name", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")

    def down(self) -> None:
        for ns in reversed(self.made):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30)
            for pid in pids.stdout.split():  # only processes this benchmark started live in its namespaces
                with suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)
        self.made.clear()

    def popen(self, role: str, cmd: list[str], **kw: Any) -> subprocess.Popen[str]:
        # Workers unpickle the benchmark's task wrappers (bench_scaling._timed_call): bench/ on their path.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns(role), *cmd], start_new_session=True, text=True, env=env, **kw
        )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


@contextmanager
def cluster(lan: Lan, workers: int) -> Iterator[None]:
    dask = str(Path(sys.executable).with_name("dask"))
    procs = [
        lan.popen(
            "sched",
            [dask, "scheduler", "--host", SCHEDULER, "--port", str(PORT), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for n in range(1, workers + 1):
            procs.append(
                lan.popen(
                    f"w{n}",
                    [
                        dask,
                        "worker",
                        f"tcp://{SCHEDULER}:{PORT}",
                        "--host",
                        lan.hosts[f"w{n}"],
                        "--nthreads",
                        "1",
                    ]
                    + ["--nworkers", "1", "--no-dashboard", "--name", f"w{n}"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield
    finally:
        for proc in reversed(procs):
            stop(proc)


def client_run(args: argparse.Namespace) -> None:
    """In the client's namespace: one ingest through the cluster; the figures as JSON on stdout."""
    roots, known_images = scaling.make_devices(args.devices, args.photos, args.files)
    known = scaling.known_set(known_images)
    pool = DaskExecutor.connect(f"tcp://{SCHEDULER}:{PORT}", timeout=60)
    pool.client.wait_for_workers(args.client, timeout=60)
    pool.slots = max(1, sum(pool.client.nthreads().values()))  # connect() counted the first worker only
    pool.client.run(scaling._warm_worker)  # imports are not what is measured (as in bench_scaling)
    try:
        res = scaling.one_run(f"dask, {args.client} worker(s)", pool, roots, known, args.round)
    finally:
        pool.close()
    print(json.dumps({k: res.get(k, 0) for k in FIELDS}), flush=True)


def dask_run(lan: Lan, args: argparse.Namespace, workers: int, round_no: int) -> dict[str, Any]:
    with cluster(lan, workers):
        cmd = [sys.executable, __file__, "--client", str(workers), "--round", str(round_no)]
        cmd += ["--devices", str(args.devices), "--photos", str(args.photos), "--files", str(args.files)]
        proc = lan.popen("client", cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            stop(proc)
            raise SystemExit(f"dask run with {workers} worker(s) passed {args.timeout} s; stopped") from None
        if proc.returncode != 0:
            raise SystemExit(f"dask client failed ({proc.returncode}):\n{err[-3000:]}")
        return dict(json.loads(out.strip().splitlines()[-1]))


def local_run(
    args: argparse.Namespace, workers: int, round_no: int, roots: list[Path], known: Path
) -> dict[str, Any]:
    pool = LocalExecutor(workers)
    try:
        res = scaling.one_run(f"local, {workers} process(es)", pool, roots, known, round_no)
    finally:
        pool.close()
    return {k: res.get(k, 0) for k in FIELDS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--photos", type=int, default=500)
    ap.add_argument("--files", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300, help="seconds one run may take")
    ap.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2])
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--client", type=int, help=argparse.SUPPRESS)  # internal: the client side
    ap.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_run(args)
        return
    scaling.OUT.mkdir(parents=True, exist_ok=True)
    roots, known_images = scaling.make_devices(args.devices, args.photos, args.files)
    known = scaling.known_set(known_images)
    scaling.walk_seconds(roots)  # warms the page cache
    load = os.getloadavg()[0]
    lan = Lan({"sched": SCHEDULER, "client": CLIENT, "w1": f"{SUBNET}.11", "w2": f"{SUBNET}.12"})
    # SIGTERM (a timeout from outside) takes the same path as an error: namespaces and processes go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    runs: list[dict[str, Any]] = []
    try:
        lan.up()
        for r in range(1, args.rounds + 1):
            for workers in args.workers:
                for kind in ("local", "dask"):
                    if kind == "local":
                        res = local_run(args, workers, r, roots, known)
                    else:
                        res = dask_run(lan, args, workers, r)
                    res.update(round=r, workers=workers, kind=kind, load=os.getloadavg()[0])
                    print(
                        f"round {r} {res['label']}: {res['wall']:.1f} s, {res['files']:,} files, worker CPU "
                        f"{res['worker_cpu']:.1f} s, load {res['load']:.1f}",
                        flush=True,
                    )
                    runs.append(res)
    finally:
        lan.down()
    assert len({(x["files"], x["matches"], x["media"]) for x in runs}) == 1, "every run stores the same"
    report(args, runs, load)


def report(args: argparse.Namespace, runs: list[dict[str, Any]], load: float) -> None:
    def median(kind: str, workers: int, key: str) -> float:
        return statistics.median(x[key] for x in runs if x["kind"] == kind and x["workers"] == workers)

    rows = [
        f"| {x['round']} | {x['label']} | {x['load']:.1f} | **{x['wall']:.1f} s** "
        f"| {x['files'] / x['wall']:,.0f} "
        f"| {x['worker_cpu']:.1f} s | {x['files'] / x['worker_cpu']:,.0f} | {x['worker_faults']:,} "
        f"| {x['client_cpu']:.1f} s |"
        for x in runs
    ]
    lines = []
    for kind in ("local", "dask"):
        one, two = median(kind, 1, "wall"), median(kind, 2, "wall")
        lines.append(f"{kind}: 1 -> 2 workers {one / two:.2f}x files/s")
    per_core = [
        f"{w} worker(s) {median('local', w, 'worker_cpu') / median('dask', w, 'worker_cpu'):.2f}x"
        for w in (1, 2)
    ]
    files = runs[0]["files"]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"\n## Dask across network namespaces: 1 and 2 workers — {stamp}",
            f"Machine: {machine()}; load average {load:.1f} at the start, per run in the table (other "
            "sessions share these 2 cores). Command: `python bench/bench_dask_netns.py "
            + " ".join(sys.argv[1:])
            + "`",
            "",
            f"The {args.devices} devices of bench_scaling.py ({files:,} files), `run_batch` two devices at a "
            "time. Dask: scheduler, each worker (`dask worker --nthreads 1`, with its nanny) and the client "
            "(the tessera process: walk, single writer, SQLite case) each in its own network namespace, "
            "joined by veth pairs on a bridge (TCP over the bridge, no added latency: the kernel here has "
            "no netem). A fresh cluster per run. Local: the process pool, no network. Rounds interleave.",
            "",
            "| round | run | load | wall | files/s | worker processes: CPU | files per worker CPU-second "
            "| minor faults | tessera process CPU |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Medians of {args.rounds} rounds: " + "; ".join(lines) + ". Per core, Dask against the local "
            "pool (worker CPU for the same files): " + ", ".join(per_core) + ". On 2 cores the second "
            "worker shares them with the client's walk and writer, the scheduler and the nannies, so 2 "
            "workers cannot double the rate here; the per-core figures are what carries to more machines. "
            "Tessera process CPU: the client side during the ingest (walk, single writer, feeding the pool "
            "or the Dask client), all its threads.",
            "",
        ]
    )
    print(text)
    if args.record:
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
