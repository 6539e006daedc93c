"""tessera timeline | places: the case timeline (CSV/JSON, streamed) and capture places (GeoJSON/KML).

``tessera timeline --media SHA256`` keeps its earlier meaning (every post of one picture, first marked);
any other use lists the whole case timeline, filtered.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated

import typer

from tessera.cli.common import CaseOpt, console, fail, load_case
from tessera.cli.listing import render
from tessera.network import analysis
from tessera.timeline import events as ev
from tessera.timeline import places as pl
from tessera.timeline.resolve import UnknownFilter, account_id, group_id, item_sha256s

OutOpt = Annotated[str, typer.Option("--out", help="File to write, or - for standard output.")]


@contextlib.contextmanager
def _open(target: str) -> Iterator[IO[str]]:
    if target == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    # newline="" so the csv module's own line endings are written as they are
    with Path(target).open("w", encoding="utf-8", newline="") as fh:
        yield fh


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    t = ev.parse_time(value)
    if t is None:
        fail(f"{name} must be an ISO date or date-time (2024-03-01 or 2024-03-01T10:00:00Z), not {value!r}")
    return t


def command(
    account: Annotated[
        str | None, typer.Option("--account", help="Account id or key (E.164, platform:id).")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="Device id.")] = None,
    item: Annotated[
        str | None, typer.Option("--item", help="Item id, or a SHA-256 (its item, else itself).")
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="Group id, key or title.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO date/time, UTC unless a zone is given.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="ISO date/time, inclusive (a bare date: the whole day).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help=f"Only these kinds: {', '.join(ev.KINDS)}.")
    ] = None,
    media: Annotated[str | None, typer.Option("--media", help="Every post of one picture (SHA-256).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv|json (table: --media only)")] = "",
    out_file: OutOpt = "-",
    case: CaseOpt = None,
) -> None:
    """The case timeline: posts, messages, EXIF captures, file times and suspect events, in time order."""
    handle = load_case(case)
    if media is not None:
        with handle.session() as s:
            rows = analysis.timeline(s, media.lower())
        if not rows and fmt in ("", "table"):
            fail(f"no post of {media} in this case")
        render(
            rows,
            fmt or "table",
            ["time", "account", "group", "device", "locator", "forwarded", "first"],
            "Timeline",
        )
        return
    fmt = fmt or "csv"
    if fmt not in ("csv", "json"):
        fail("--format must be csv or json")
    bad = sorted(set(kind or ()) - set(ev.KINDS))
    if bad:
        fail(f"unknown --kind {', '.join(bad)}; kinds are {', '.join(ev.KINDS)}")
    counters = ev.Counters()
    n = 0
    with handle.session() as s:
        try:
            f = ev.Filters(
                account=account_id(s, account) if account else None,
                device=device,
                sha256s=item_sha256s(s, item) if item else None,
                group=group_id(s, group) if group else None,
                since=_time(since, "--since"),
                until=_time(until, "--until") and ev.parse_until(until),
                kinds=frozenset(kind) if kind else frozenset(ev.KINDS),
            )
        except UnknownFilter as exc:
            fail(str(exc))
        with _open(out_file) as fh:
            stream = ev.stream(s, f, counters=counters)
            if fmt == "csv":
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(ev.COLUMNS)
                for _, e in stream:
                    w.writerow(["" if e[c] is None else e[c] for c in ev.COLUMNS])
                    n += 1
            else:  # one JSON array, written event by event
                fh.write("[\n")
                for _, e in stream:
                    fh.write(("," if n else "") + json.dumps(e, ensure_ascii=False) + "\n")
                    n += 1
                fh.write("]\n")
    console.print(f"{n:,} event(s) written")
    if counters.unreadable_capture_times or counters.unreadable_seizure_dates:
        console.print(
            f"left out, no readable time: {counters.unreadable_capture_times:,} EXIF capture time(s), "
            f"{counters.unreadable_seizure_dates:,} seizure date(s) (their raw values stay in the case)"
        )


def places_cmd(
    fmt: Annotated[str, typer.Option("--format", help="geojson|kml")],
    out_file: OutOpt = "-",
    device: Annotated[
        str | None, typer.Option("--device", help="Pictures with a file on this device.")
    ] = None,
    item: Annotated[str | None, typer.Option("--item", help="Item id, or a SHA-256.")] = None,
    case: CaseOpt = None,
) -> None:
    """Capture places (EXIF GPS) with the files behind each picture, as GeoJSON or KML."""
    if fmt not in ("geojson", "kml"):
        fail("--format must be geojson or kml")
    handle = load_case(case)
    with handle.session() as s:
        try:
            shas = item_sha256s(s, item) if item else None
        except UnknownFilter as exc:
            fail(str(exc))
        with _open(out_file) as fh:
            rows = pl.places(s, device=device, sha256s=shas)
            n = (
                pl.write_geojson(rows, fh)
                if fmt == "geojson"
                else pl.write_kml(rows, fh, f"{handle.name} capture places")
            )
    console.print(f"{n:,} located picture(s) written")
