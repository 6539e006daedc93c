"""tessera ingest ..."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from tessera.cli.common import EXIT_PARTIAL, CaseOpt, console, fail, load_case, out
from tessera.ingest.pipeline import HitReport, IngestOptions, ingest

KINDS = ("phone", "computer", "tablet", "storage", "capture")


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("")
        mb = task.fields.get("bytes", 0) / 1e6
        hits = task.fields.get("hits", 0)
        return Text(f"{task.completed / elapsed:,.0f} files/s {mb / elapsed:,.1f} MB/s hits {hits}")


class RichIngestProgress:
    def __init__(self, bar: Progress, device: str) -> None:
        self.bar, self.device = bar, device
        self.task = bar.add_task(f"ingest {device}", total=None, bytes=0, hits=0)
        self.hits = 0

    def start(self, total_files: int | None, total_bytes: int | None) -> None:
        done = self.bar.tasks[self.task].completed
        self.bar.update(self.task, total=None if total_files is None else max(total_files, done))

    def advance(self, files: int, nbytes: int) -> None:
        t = self.bar.tasks[self.task]
        total = t.total  # None until the pre-count (running beside the walk) reports
        # Archive members are counted as they are found, beyond the pre-counted files.
        if total is not None and t.completed + files > total:
            self.bar.update(self.task, total=t.completed + files)
        self.bar.update(self.task, advance=files, bytes=t.fields.get("bytes", 0) + nbytes)

    def hit(self, hit: HitReport) -> None:
        self.hits += 1
        self.bar.update(self.task, hits=self.hits)
        cat = "uncategorised" if hit.category is None else f"category {hit.category}"
        dist = f" distance {hit.distance}" if "pdq" in hit.algorithm else ""
        self.bar.console.print(
            f"[bold red]HIT[/] {hit.device_id}:{hit.locator}  {hit.algorithm}{dist}  {hit.hashset}  {cat}",
            highlight=False,
        )


def command(
    source: Annotated[Path, typer.Argument(help="Evidence: a directory, an archive or a file.")],
    device: Annotated[str, typer.Option("--device", help="Device (evidence item) id, e.g. D017.")],
    kind: Annotated[str, typer.Option("--kind", help="phone|computer|tablet|storage|capture")] = "storage",
    suspect: Annotated[str | None, typer.Option("--suspect", help="Suspect id.")] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Hashing processes (0 = in-process).")
    ] = os.cpu_count() or 1,
    full_decode: Annotated[
        bool, typer.Option("--full-decode", help="Decode JPEGs at full size for PDQ.")
    ] = False,
    region: Annotated[
        str | None, typer.Option("--region", help="Country of national phone forms (ES).")
    ] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Zone of chat exports' local times.")] = None,
    first_hit: Annotated[
        bool, typer.Option("--first-hit", help="Stop at the first confirmed hit (a quick preview).")
    ] = False,
    sorted_walk: Annotated[
        bool, typer.Option("--sorted-walk", help="Walk in plain path order instead of media folders first.")
    ] = False,
    case: CaseOpt = None,
) -> None:
    """Walk, hash and match one evidence source; run it again to resume a stopped run."""
    if kind not in KINDS:
        fail(f"--kind must be one of {', '.join(KINDS)}")
    if not source.exists():
        fail(f"no such evidence source: {source}")
    handle = load_case(case)
    try:
        local_tz = ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {tz!r} (use a name like Europe/Madrid)")
    opts = IngestOptions(
        device_id=device,
        kind=kind,
        suspect=suspect,
        workers=workers,
        fast_decode=not full_decode,
        region=region.upper() if region else None,
        local_tz=local_tz,
        media_first=not sorted_walk,
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        progress = RichIngestProgress(bar, device)
        res = ingest(
            handle, source, opts, progress, should_stop=(lambda: progress.hits > 0) if first_hit else None
        )
    if first_hit:
        state = "first hit found: stopped early" if res.hits else "no hit on the whole device"
        out.print(f"{device}: {state}; run without --first-hit to finish (already stored files are skipped)")
    out.print(
        f"{device}: {res.files_new:,} files stored, {res.files_skipped:,} already stored (resumed), "
        f"{res.media_new:,} new media, {res.hits:,} hits, {res.errors:,} errors in {res.elapsed:.1f}s"
    )
    if res.errors:
        for loc, err in res.problems[:10]:
            console.print(f"  problem {device}:{loc}: {err}", highlight=False, markup=False)
        console.print(
            f"{res.errors:,} file(s) could not be fully processed; they are recorded in the case "
            f"(tessera report lists them all)"
        )
        raise typer.Exit(EXIT_PARTIAL)
