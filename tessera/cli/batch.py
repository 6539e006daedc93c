"""tessera ingest-batch MANIFEST ..."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.progress import (
    Progress,
)
from rich.table import Table

from tessera.cli.common import EXIT_PARTIAL, CaseOpt, console, fail, load_case, out
from tessera.cli.ingest import (
    ExecutorOpt,
    FullDecodeOpt,
    NoVideoFramesOpt,
    RegionOpt,
    RichIngestProgress,
    SchedulerOpt,
    SummaryFormatOpt,
    TzOpt,
    VideoSamplingOpt,
    check_executor,
    check_summary_format,
    ingest_bar,
    result_summary,
    zone,
)
from tessera.cli.listing import emit_json
from tessera.hashing.video import DEFAULT_SECONDS_PER_HASH
from tessera.ingest.batch import DeviceOutcome, ManifestError, ManifestRow, read_manifest, run_batch
from tessera.ingest.executors import ExecutorError, open_executor
from tessera.ingest.pipeline import IngestOptions, IngestProgress


class _RichBatch:
    """One bar per device, added when the device starts; hits are printed by the device's bar."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self._lock = threading.Lock()
        self._bars: dict[str, RichIngestProgress] = {}

    def started(self, row: ManifestRow) -> IngestProgress | None:
        with self._lock:  # add_task from several threads at once
            p = RichIngestProgress(self.bar, row.device)
            self._bars[row.device] = p
        return p

    def finished(self, outcome: DeviceOutcome) -> None:
        p = self._bars.get(outcome.row.device)
        if p is not None:
            self.bar.update(p.task, description=f"{outcome.row.device} {outcome.status}")


def command(
    manifest: Annotated[
        Path, typer.Argument(help="CSV with a header: device,kind,suspect,source (one row per device).")
    ],
    parallel: Annotated[int, typer.Option("--parallel", help="Devices ingested at the same time.")] = 2,
    workers: Annotated[
        int, typer.Option("--workers", help="Hashing processes in all, shared by the devices (local).")
    ] = os.cpu_count() or 1,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    full_decode: FullDecodeOpt = False,
    region: RegionOpt = None,
    tz: TzOpt = None,
    video_sampling: VideoSamplingOpt = DEFAULT_SECONDS_PER_HASH,
    no_video_frames: NoVideoFramesOpt = False,
    fmt: SummaryFormatOpt = "text",
    case: CaseOpt = None,
) -> None:
    """Ingest every device of a seizure list, several at a time; run it again to resume.

    The manifest is checked whole first: one bad line and nothing is run.
    Relative sources are taken from the manifest's folder.
    Exit code 1 when a device failed or some of its files could not be processed."""
    if parallel < 1:
        fail("--parallel must be at least 1")
    check_summary_format(fmt)
    if video_sampling < 0:
        fail("--video-sampling must be 0 (every frame) or a positive number of seconds")
    check_executor(executor, scheduler)
    try:
        rows = read_manifest(manifest)
    except ManifestError as exc:
        fail(str(exc))
    handle = load_case(case)
    local_tz = zone(tz)
    template = IngestOptions(
        device_id="",  # each device's id, kind and suspect come from its manifest row
        fast_decode=not full_decode,
        region=region.upper() if region else None,
        local_tz=local_tz,
        video_seconds_per_hash=video_sampling,
        video_frames=not no_video_frames,
    )
    # Opened before the progress bar, so an unreachable scheduler is one clean error line, and before
    # any device thread, as the local pool forks its workers.
    try:
        pool = open_executor(executor, workers=workers, scheduler=scheduler)
    except ExecutorError as exc:
        fail(str(exc))
    with ingest_bar() as bar:
        try:
            outcomes = run_batch(
                handle,
                rows,
                parallel=parallel,
                executor=executor if pool else "inline",  # no pool: --workers 0, hashing in each thread
                pool=pool,
                template=template,
                progress=_RichBatch(bar),
            )
        finally:
            if pool is not None:
                pool.close()
    if fmt == "json":
        emit_json([_outcome_json(o) for o in outcomes])
    else:
        _report(outcomes)
    if any(o.status in ("failed", "errors") for o in outcomes):
        raise typer.Exit(EXIT_PARTIAL)


def _outcome_json(o: DeviceOutcome) -> dict[str, Any]:
    body: dict[str, Any] = {"device": o.row.device, "suspect": o.row.suspect, "kind": o.row.kind}
    if o.result is not None:
        body |= result_summary(o.row.device, o.result)
    return body | {"status": o.status, "error": o.error, "elapsed_s": round(o.elapsed, 3)}


def _report(outcomes: list[DeviceOutcome]) -> None:
    # Plain columns without borders: the table fits 80 columns, and scripts can split its lines.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("device", "suspect", "files", "resumed", "media", "hits", "errors", "status", "elapsed"):
        table.add_column(name, justify="left" if name in ("device", "suspect", "status") else "right")
    totals = [0] * 5
    for o in outcomes:
        r = o.result
        counts = [r.files_new, r.files_skipped, r.media_new, r.hits, r.errors] if r else [0] * 5
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        table.add_row(
            o.row.device, o.row.suspect or "-", *(f"{n:,}" for n in counts), o.status, f"{o.elapsed:.1f}s"
        )
    table.add_section()
    table.add_row("total", "", *(f"{n:,}" for n in totals), "", "")
    out.print(table)
    for o in outcomes:
        if o.error:
            console.print(f"  {o.row.device} failed: {o.error}", highlight=False, markup=False)
        elif o.result and o.result.errors:
            for loc, err in o.result.problems[:5]:
                console.print(f"  problem {o.row.device}:{loc}: {err}", highlight=False, markup=False)
        elif o.result and o.result.stored_file_errors:
            console.print(
                f"  {o.row.device}: {o.result.stored_file_errors:,} file(s) stored with errors by an "
                "earlier run",
                highlight=False,
            )
    partial = [o.row.device for o in outcomes if o.status in ("failed", "errors")]
    if partial:
        console.print(
            f"{len(partial)} device(s) not fully processed ({', '.join(partial)}); problems are recorded "
            "in the case (tessera report lists them); run the same command again to retry"
        )
