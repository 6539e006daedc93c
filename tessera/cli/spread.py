"""tessera spread: near-duplicate items and the spread graph of one of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, console, fail, load_case
from tessera.cli.listing import render


def command(
    item: Annotated[
        int | None, typer.Option("--item", help="Item id (see `tessera spread` without it).")
    ] = None,
    media: Annotated[
        str | None, typer.Option("--media", help="SHA-256 of a file: its item's spread.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="json|graphml for one item; table|json|csv for all")
    ] = "",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
    case: CaseOpt = None,
) -> None:
    """Items (media grouped by PDQ/vPDQ however often apps recompressed them) and how each spread.

    Without --item: every item with its first post, posts, copies, groups, accounts and devices.
    With --item (or --media): the item's spread graph of posts and forwards in time order."""
    from tessera.items.grouping import item_of, update_items
    from tessera.items.posts import item_spread
    from tessera.items.spread import FORMATS, write

    handle = load_case(case)
    with handle.session() as s:
        # Items are grouped once and then only for media that arrived since.
        grouped = update_items(s)
        s.commit()
        if grouped.new:
            typer.echo(f"grouped {grouped.new:,} media not grouped before into items", err=True)
        if media is not None:
            item = item_of(s, media.lower())
            if item is None:
                fail(f"no stored file {media} in this case")
        if item is None:
            rows = list(item_spread(s))
            if fmt not in ("", "table", "json", "csv"):
                fail("--format must be table, json or csv when listing items")
            render(
                [
                    {**r, "first": f"{r['first']['time']} {r['first']['account']} in {r['first']['group']}"}
                    if fmt in ("", "table")
                    else r
                    for r in rows
                ],
                fmt or "table",
                ["item", "kind", "status", "posts", "copies", "groups", "accounts", "devices", "first"],
                "Items",
            )
            return
        fmt = fmt or "json"
        if fmt not in FORMATS:
            fail(f"--format must be one of {', '.join(FORMATS)}")
        from tessera.store.models_items import Item

        if s.get(Item, item) is None:
            fail(f"no item {item} in this case")
        text = write(s, item, fmt, out_file)
    if out_file is None:
        typer.echo(text)
    else:
        console.print(f"wrote {out_file}", highlight=False)
