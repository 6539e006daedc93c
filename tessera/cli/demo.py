"""tessera demo: a synthetic operation through the whole triage flow."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tessera.cli.common import console, out
from tessera.cli.ingest import RichIngestProgress
from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.report.build import build_report
from tessera.report.render import WRITERS
from tessera.store.case import init_case
from tessera.synth.operation import make_operation


def run_demo(out_dir: str) -> None:
    root = Path(out_dir)
    if (root / "case").exists() or (root / "evidence").exists():
        # The demo directory is the demo's own: start clean so it can be run again and again.
        shutil.rmtree(root / "case", ignore_errors=True)
        shutil.rmtree(root / "evidence", ignore_errors=True)
    out.print("[bold]Tessera demo[/]: synthesizing an operation (abstract images, invented ids) ...")
    op = make_operation(root)
    case = init_case(root / "case", "Operation Demo", "XX-DEMO")
    res = import_hashset(case, op.known_list, name="known-list (VICS 2.0)")
    out.print(f"hash set {res.name!r}: {res.entries} entries ({', '.join(sorted(res.by_algorithm))})")
    results = []
    for dev in op.devices:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            r = ingest(
                case,
                dev.path,
                IngestOptions(dev.id, kind=dev.kind, suspect=dev.suspect),
                RichIngestProgress(bar, dev.id),
            )
        results.append((dev, r))
    report = build_report(case)
    for fmt in ("html", "json"):
        WRITERS[fmt](report, root / f"report.{fmt}")
    table = Table(
        "device",
        "kind",
        "suspect",
        "files",
        "unique media",
        "matched media",
        "files with hits",
        "new material",
        "errors",
        title="Operation Demo: triage summary",
    )
    for d in report["devices"]:
        st = d["stats"]
        table.add_row(
            d["id"],
            d["kind"],
            d["suspect"] or "",
            str(st["files"]),
            str(st["unique_media"]),
            str(st["matched_media"]),
            str(st["files_with_hits"]),
            str(st["new_material"]),
            str(st["errors"]),
        )
    t = report["totals"]
    table.add_row(
        "all",
        "",
        "",
        str(t["files"]),
        str(t["unique_media"]),
        str(t["matched_media"]),
        str(t["files_with_hits"]),
        str(t["new_material"]),
        str(t["errors"]),
        style="bold",
    )
    out.print(table)
    out.print(f"hits by algorithm: {t['hits_by_algorithm']}; by category: {t['hits_by_category']}")
    out.print(f"case: {case.directory}   (try: tessera matches --case {case.directory})")
    out.print(f"HTML report: {(root / 'report.html').resolve()}")
    case.close()
