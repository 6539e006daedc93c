"""tessera accounts | groups | bridges | graph | referrals (the timeline is in tessera/cli/timeline.py)"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from tessera.cli.common import CaseOpt, console, fail, is_stdout, load_case, out, output_file, say
from tessera.cli.listing import FormatOpt, render
from tessera.network import analysis, persons
from tessera.network.graph import FORMATS, build_graph, write_graph
from tessera.network.referrals import write_referrals

ByOpt = Annotated[
    str,
    typer.Option(
        "--by",
        help="sha256: first posts of byte-identical copies; item: of near-duplicate items (a copy an app "
        "recompressed is the same picture), grouping new media first.",
    ),
]


def _group_if(s: Session, by: str) -> None:
    if by not in ("sha256", "item"):
        fail(f"--by must be sha256 or item, not {by!r}")
    if by == "item":
        from tessera.items.grouping import update_items

        update_items(s)
        s.commit()


def accounts_cmd(
    fmt: FormatOpt = "table",
    role: Annotated[
        str | None, typer.Option("--role", help="producer-candidate|distributor|consumer")
    ] = None,
    country: Annotated[str | None, typer.Option("--country", help="ISO country code, e.g. ES")] = None,
    by: ByOpt = "sha256",
    case: CaseOpt = None,
) -> None:
    """Accounts with their groups, devices and role indicators (with the messages behind them)."""
    handle = load_case(case)
    with handle.session() as s:
        _group_if(s, by)
        rows = [a.as_dict() for a in analysis.accounts(s, by)]
    if role:
        rows = [r for r in rows if role in r["roles"]]
    if country:
        rows = [r for r in rows if (r["country"] or "").upper() == country.upper()]
    render(
        rows,
        fmt,
        [
            "account",
            "platform",
            "country",
            "phone_valid",
            "names",
            "groups",
            "devices",
            "messages",
            "media_posts",
            "roles",
            "person",
        ],
        "Accounts",
    )


def persons_cmd(
    fmt: FormatOpt = "table",
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Recompute the links from the stored accounts first.")
    ] = False,
    case: CaseOpt = None,
) -> None:
    """Persons: accounts of several platforms sharing a valid E.164 number, each with the evidence of
    the link (the raw values the number was read from, the sources that show the account). JSON: one
    object per person; table and CSV: one row per linked account."""
    handle = load_case(case)
    with handle.session() as s:
        if recompute:
            done = persons.link_persons(s)
            s.commit()
            console.print(  # stderr: the listing on stdout stays parseable JSON or CSV
                f"{done.persons:,} person(s), {done.links:,} link(s): "
                f"{done.created:,} new, {done.removed:,} removed"
            )
        rows = persons.persons(s)
        unlinked = persons.not_linked(s)
    if fmt == "json":
        render(rows, fmt, [])
        return
    flat = [
        {
            "person": p["person"],
            "platform": a["platform"],
            "account": a["account"],
            "names": a["names"],
            "raw values": [v["value"] for v in a["evidence"]["raw"]],
            "sources": [f"{x['device']}:{x['locator']} ({x['parser']})" for x in a["evidence"]["sources"]],
        }
        for p in rows
        for a in p["accounts"]
    ]
    render(flat, fmt, ["person", "platform", "account", "names", "raw values", "sources"], "Persons")
    if fmt == "table":
        for n in unlinked:
            out.print(f"not linked: {n['phone']} ({', '.join(n['accounts'])}): {n['reason']}")


def groups_cmd(fmt: FormatOpt = "table", case: CaseOpt = None) -> None:
    """Groups and chats with members, messages, media items and the devices that hold them."""
    handle = load_case(case)
    with handle.session() as s:
        rows = analysis.groups(s)
    render(
        rows,
        fmt,
        [
            "group",
            "platform",
            "kind",
            "members",
            "messages",
            "media_items",
            "devices",
            "first_message",
            "last_message",
        ],
        "Groups",
    )


def bridges_cmd(fmt: FormatOpt = "table", case: CaseOpt = None) -> None:
    """Accounts that posted in two or more groups."""
    handle = load_case(case)
    with handle.session() as s:
        rows = analysis.bridges(s)
    render(rows, fmt, ["account", "platform", "groups", "evidence"], "Bridges")


def graph_cmd(
    fmt: Annotated[str, typer.Option("--format", help="graphml|gexf|json")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write, or - for standard output.")],
    case: CaseOpt = None,
) -> None:
    """Write the account-group-media graph (opens in Gephi)."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    handle = load_case(case)
    with handle.session() as s:
        g = build_graph(s)
    with output_file(out_file, f".{fmt}") as path:
        write_graph(g, fmt, path)
    where = "standard output" if is_stdout(out_file) else out_file
    say(out_file).print(f"wrote {g.number_of_nodes():,} nodes and {g.number_of_edges():,} edges to {where}")


def referrals_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the packages (one per country).")],
    country: Annotated[str | None, typer.Option("--country", help="Only this country.")] = None,
    by: ByOpt = "sha256",
    case: CaseOpt = None,
) -> None:
    """One package per country: accounts, groups, hashes and categories of their posts. No media."""
    handle = load_case(case)
    with handle.session() as s:
        _group_if(s, by)
        packages = write_referrals(
            s, out_dir, handle.name, handle.agency, country.upper() if country else None, by=by
        )
    for p in packages:
        out.print(f"{p.country}: {p.accounts} accounts, {p.posts} posts, {p.items} items -> {p.path}")
    out.print(f"{len(packages)} package(s) in {out_dir}")
