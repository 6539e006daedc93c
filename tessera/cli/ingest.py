"""tessera ingest ..."""

from __future__ import annotations

import os
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape
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
from tessera.cli.listing import emit_json
from tessera.hashing.video import DEFAULT_SECONDS_PER_HASH
from tessera.ingest.batch import DEVICE_KINDS
from tessera.ingest.executors import EXECUTORS, ExecutorError, open_executor
from tessera.ingest.pipeline import HitReport, IngestOptions, IngestResult, ingest
from tessera.ingest.runs import SourceConflict, check_claim
from tessera.ingest.sources import incomplete_sources
from tessera.logs import redact
from tessera.messaging.coverage import COMPLETE, INCOMPLETE, NOT_PARSED
from tessera.store.case import CaseHandle

KINDS = DEVICE_KINDS


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
        dist = f" distance {hit.distance}" if "pdq" in hit.algorithm.split("+") else ""
        self.bar.console.print(
            f"[bold red]HIT[/] {hit.device_id}:{hit.locator}  {hit.algorithm}{dist}  {hit.hashset}  {cat}",
            highlight=False,
        )


ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where hashing runs: local (worker processes here), dask (a Dask cluster), inline.",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address for --executor dask, e.g. tcp://HOST:8786."),
]
FullDecodeOpt = Annotated[bool, typer.Option("--full-decode", help="Decode JPEGs at full size for PDQ.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="Country of national phone forms (ES).")]
TzOpt = Annotated[str | None, typer.Option("--tz", help="Zone of chat exports' local times.")]


def zone(tz: str | None) -> tzinfo | None:
    """The --tz zone, or one error line naming what was given."""
    try:
        return ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {tz!r} (use a name like Europe/Madrid)")


VideoSamplingOpt = Annotated[
    float,
    typer.Option(
        "--video-sampling",
        help="Video: one vPDQ frame hash per this many seconds (0 = every frame, vPDQ's own default).",
    ),
]
NoVideoFramesOpt = Annotated[
    bool, typer.Option("--no-video-frames", help="Video: digests, size and duration only; no frame hashes.")
]
SummaryFormatOpt = Annotated[
    str,
    typer.Option(
        "--format", help="text|json: the summary on standard output (progress and hits go to standard error)."
    ),
]


def check_summary_format(fmt: str) -> None:
    if fmt not in ("text", "json"):
        fail("--format must be text or json")


def result_summary(device: str, res: IngestResult) -> dict[str, Any]:
    """What ``--format json`` prints for one device: the counts, each messaging source, the first problems."""
    return {
        "device": device,
        "files_new": res.files_new,
        "files_skipped": res.files_skipped,
        "media_new": res.media_new,
        "hits": res.hits,
        "errors": res.errors,
        "stored_file_errors": res.stored_file_errors,
        "elapsed_s": round(res.elapsed, 3),
        "messaging": [
            {
                "locator": r.locator,
                "parser": r.parser,
                "status": r.status,
                "messages": r.messages,
                "coverage": r.coverage.summary() if r.coverage is not None and r.coverage.units else None,
                "error": r.error,
            }
            for r in res.messaging
        ],
        "problems": [{"locator": loc, "error": err} for loc, err in res.problems],
    }


def ingest_bar() -> Progress:
    """The progress display of ingest and ingest-batch: files, files/s, MB/s, hits, elapsed, ETA."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def volume_keys(keys: list[str] | None, key_file: Path | None) -> tuple[str, ...]:
    """The keys given with --key and in --key-file (one per line, blank lines skipped)."""
    out = [k for k in keys or [] if k]
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read --key-file {key_file}: {exc}")
        out += [line.strip() for line in text.splitlines() if line.strip()]
    return tuple(out)


def check_executor(executor: str, scheduler: str | None) -> None:
    """Refuse an unknown executor or a missing/misplaced scheduler before anything is opened."""
    if executor not in EXECUTORS:
        fail(f"--executor must be one of {', '.join(EXECUTORS.names())}")
    if executor == "dask" and not scheduler:
        fail("--executor dask needs --scheduler ADDRESS (e.g. tcp://HOST:8786)")
    if executor != "dask" and scheduler:
        fail("--scheduler is used only with --executor dask")


def command(
    source: Annotated[Path, typer.Argument(help="Evidence: a directory, an archive or a file.")],
    device: Annotated[str, typer.Option("--device", help="Device (evidence item) id, e.g. D017.")],
    kind: Annotated[str, typer.Option("--kind", help="phone|computer|tablet|storage|capture")] = "storage",
    suspect: Annotated[str | None, typer.Option("--suspect", help="Suspect id.")] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Hashing processes (0 = in-process).")
    ] = os.cpu_count() or 1,
    full_decode: FullDecodeOpt = False,
    region: RegionOpt = None,
    tz: TzOpt = None,
    first_hit: Annotated[
        bool, typer.Option("--first-hit", help="Stop at the first confirmed hit (a quick preview).")
    ] = False,
    sorted_walk: Annotated[
        bool, typer.Option("--sorted-walk", help="Walk in plain path order instead of media folders first.")
    ] = False,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    video_sampling: VideoSamplingOpt = DEFAULT_SECONDS_PER_HASH,
    no_video_frames: NoVideoFramesOpt = False,
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            help="The device owner's phone number (international form) or JID, for a WhatsApp database "
            "seized without the phone's shared preferences.",
        ),
    ] = None,
    add_source: Annotated[
        bool,
        typer.Option(
            "--add-source",
            help="SOURCE is one more source of an already ingested device (e.g. a phone's SD card): its "
            "files are stored under /<name of SOURCE>. Without it a different source is refused.",
        ),
    ] = False,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            help="A password or recovery key for an encrypted volume (BitLocker, LUKS, FileVault); "
            "repeat for several. Never stored or logged. Prefer --key-file: a command line is seen by "
            "other users of the machine and kept in shell history.",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="A file with one volume password or recovery key per line."),
    ] = None,
    password: Annotated[
        list[str] | None,
        typer.Option(
            "--password",
            help="The password of an encrypted iTunes/Finder backup (tried like --key; never stored or "
            "logged). --key-file works for backups too.",
        ),
    ] = None,
    store_in_process: Annotated[
        bool,
        typer.Option(
            "--store-in-process",
            help="Store in the main process instead of a storing process of its own beside it (one "
            "process fewer; slower on trees of small files).",
        ),
    ] = False,
    fmt: SummaryFormatOpt = "text",
    case: CaseOpt = None,
) -> None:
    """Walk, hash and match one evidence source; run it again to resume a stopped run.

    With --executor dask the hashing runs on a Dask cluster; its workers read the evidence by path.
    The evidence and the case must be on storage the workers share, at the same paths."""
    if kind not in KINDS:
        fail(f"--kind must be one of {', '.join(KINDS)}")
    check_summary_format(fmt)
    if video_sampling < 0:
        fail("--video-sampling must be 0 (every frame) or a positive number of seconds")
    if not source.exists():
        fail(f"no such evidence source: {source}")
    check_executor(executor, scheduler)
    if executor == "dask":
        # Dask workers open the evidence by path on shared storage: the path must not depend on this
        # shell's working directory.
        source = Path(os.path.abspath(source))
    keys = volume_keys([*(key or []), *(password or [])], key_file)
    for secret in keys:  # masked in every log line should one ever be formatted into a message
        redact(secret)
    handle = load_case(case)
    local_tz = zone(tz)
    try:
        check_claim(handle, device, source, add_source=add_source)
    except SourceConflict as exc:
        fail(str(exc))
    # Opened here, before the progress bar, so an unreachable scheduler is one clean error line.
    try:
        pool = open_executor(executor, workers=workers, scheduler=scheduler)
    except ExecutorError as exc:
        fail(str(exc))
    opts = IngestOptions(
        device_id=device,
        kind=kind,
        suspect=suspect,
        # The pool's size (a cluster's threads for dask) sets how many batches are kept in flight.
        workers=pool.slots if pool else 0,
        fast_decode=not full_decode,
        region=region.upper() if region else None,
        local_tz=local_tz,
        media_first=not sorted_walk,
        executor=executor if pool else "inline",
        pool=pool,
        video_seconds_per_hash=video_sampling,
        video_frames=not no_video_frames,
        parser_options={"owner": owner} if owner else {},
        add_source=add_source,
        volume_keys=keys,
        store_process=not store_in_process,
    )
    try:
        res = _ingest_with_bar(handle, source, opts, first_hit)
    finally:
        if pool is not None:
            pool.close()
    incomplete = incomplete_sources(handle, device)
    if fmt == "json":
        summary = result_summary(device, res)
        summary["incomplete_sources"] = [
            {"locator": loc, "status": status, "error": err} for loc, status, err in incomplete
        ]
        if first_hit:
            summary["stopped_at_first_hit"] = bool(res.hits)
        emit_json(summary)
    else:
        if first_hit:
            state = "first hit found: stopped early" if res.hits else "no hit on the whole device"
            out.print(
                f"{device}: {state}; run without --first-hit to finish (already stored files are skipped)"
            )
        out.print(
            f"{device}: {res.files_new:,} files stored, {res.files_skipped:,} already stored (resumed), "
            f"{res.media_new:,} new media, {res.hits:,} hits, {res.errors:,} errors in {res.elapsed:.1f}s"
        )
        print_messaging(device, res)
    file_errors = res.errors - sum(1 for r in res.messaging if r.status in INCOMPLETE)
    if file_errors:
        for loc, err in [p for p in res.problems if not p[1].startswith(("partial:", "failed:"))][:10]:
            console.print(f"  problem {device}:{loc}: {err}", highlight=False, markup=False)
        console.print(
            f"{file_errors:,} file(s) could not be fully processed; they are recorded in the case "
            f"(tessera report lists them all)"
        )
    # A resumed run is judged on everything the device holds, not only on what this run stored.
    earlier = res.stored_file_errors - file_errors
    if earlier > 0:
        console.print(
            f"{earlier:,} file(s) of {device} stored with errors by an earlier run "
            f"(tessera report --device {device} lists them)"
        )
    if incomplete:
        console.print(
            f"{len(incomplete):,} messaging source(s) of {device} not parsed in full "
            f"(tessera sources --device {device} lists them with their counts)"
        )
    if file_errors or res.stored_file_errors or incomplete:
        raise typer.Exit(EXIT_PARTIAL)


def print_messaging(device: str, res: IngestResult) -> None:
    """One line per messaging source: status, what it held against what was parsed, and why not."""
    for r in res.messaging:
        colour = {"complete": "green", "partial": "yellow", "failed": "red"}.get(r.status, "cyan")
        line = f"  [{colour}]{r.status}[/] {device}:{escape(r.locator)} ({r.parser})"
        if r.status != NOT_PARSED:
            line += f": {r.messages:,} messages"
            if r.coverage is not None and r.coverage.units:
                line += f"; {escape(r.coverage.summary())}"
        out.print(line, highlight=False)
        if r.error and r.status != COMPLETE:
            out.print(f"    {r.error}", highlight=False, markup=False)


def _ingest_with_bar(handle: CaseHandle, source: Path, opts: IngestOptions, first_hit: bool) -> IngestResult:
    with ingest_bar() as bar:
        progress = RichIngestProgress(bar, opts.device_id)
        return ingest(
            handle, source, opts, progress, should_stop=(lambda: progress.hits > 0) if first_hit else None
        )
