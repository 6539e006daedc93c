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
from tessera.network import analysis
from tessera.network.referrals import write_referrals
from tessera.report.build import build_report
from tessera.report.render import WRITERS
from tessera.store.case import CaseHandle, init_case
from tessera.synth.hashsets import vics_media
from tessera.synth.network import make_network
from tessera.synth.operation import make_operation
from tessera.synth.seizures import write_seizures


def run_demo(out_dir: str) -> None:
    root = Path(out_dir)
    if (root / "case").exists() or (root / "evidence").exists():
        # The demo directory is the demo's own: start clean so it can be run again and again.
        shutil.rmtree(root / "case", ignore_errors=True)
        shutil.rmtree(root / "evidence", ignore_errors=True)
        shutil.rmtree(root / "referrals", ignore_errors=True)
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
    _videos(case, root)
    _network(case, root)
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
    out.print(f"referral packages: {(root / 'referrals').resolve()}")
    case.close()


def _videos(case: CaseHandle, root: Path) -> None:
    """A phone with traded copies of known videos (re-encoded, clipped, zipped) and a known still."""
    try:
        import vpdq  # noqa: F401
    except ImportError:
        out.print("[yellow]vpdq is not installed: the video part of the demo is skipped[/]")
        return
    from tessera.synth.videos import video_scenario

    sc = video_scenario(root / "evidence" / "video-phone")
    import_hashset(case, sc.known_vpdq, name="known videos (vPDQ)")
    import_hashset(case, sc.known_stills, name="known stills (PDQ)", algorithm="pdq", category=1)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        ingest(case, sc.root, IngestOptions("D-VID", kind="phone"), RichIngestProgress(bar, "D-VID"))


def _network(case: CaseHandle, root: Path) -> None:
    """Seized phones and patrol captures of a synthetic set of groups: who posted what first."""
    net = make_network(1)
    out.print(
        f"\n[bold]Messaging[/]: {len(net.groups)} groups, {len(net.people)} members, "
        f"{len(net.seizures)} seized phones and patrol captures ..."
    )
    # The network's known items go on a list of their own, as a partner agency would share it.
    known = [{"sha256": it.sha256, "category": 1} for it in net.items.values() if it.known]
    vics_media(known, version="2.0", out=root / "partner-list.vics.json")
    import_hashset(case, root / "partner-list.vics.json", name="partner list (VICS 2.0)")
    for ev in write_seizures(net, root / "evidence" / "messaging"):
        ingest(case, ev.path, IngestOptions(ev.seizure.device, kind=ev.kind, workers=0))
    with case.session() as s:
        accs = analysis.accounts(s)
        firsts = analysis.first_posts(s)
        bridges = analysis.bridges(s)
        cross = analysis.cross_device(s)
        packages = write_referrals(s, root / "referrals", case.name, case.agency)
    table = Table("item", "status", "first posted by", "group", "at", title="First posts (from the messages)")
    known_sha = {it.sha256 for it in net.items.values() if it.known}
    for sha, post in sorted(firsts.items(), key=lambda kv: kv[1]["time"])[:8]:
        table.add_row(
            sha[:12], "known" if sha in known_sha else "new", post["account"], post["group"], post["time"]
        )
    out.print(table)
    producers = sum("producer-candidate" in a.roles for a in accs)
    distributors = sum("distributor" in a.roles for a in accs)
    out.print(
        f"{len(accs)} accounts: {producers} producer candidates, {distributors} distributors; "
        f"{len(bridges)} bridge accounts; {len(cross)} accounts on several devices; "
        f"{len(packages)} referral packages (hashes and metadata only)"
    )
