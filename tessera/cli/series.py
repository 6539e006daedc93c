"""tessera series: the series reviewers named in the workstation, with their members (read-only here:
series are named and filled in the workstation, where every change is audited)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import func, select

from tessera.cli.common import CaseOpt, fail, load_case
from tessera.cli.listing import FormatOpt, render
from tessera.series import members
from tessera.store.models_series import Series, SeriesMember

app = typer.Typer(help="Series named by reviewers (one victim or one scene), with notes and members.")


@app.command("list")
def list_cmd(fmt: FormatOpt = "table", case: CaseOpt = None) -> None:
    """Every series: name, notes, member count, who made it."""
    handle = load_case(case)
    with handle.session() as s:
        counts = dict(
            s.execute(select(SeriesMember.series_id, func.count()).group_by(SeriesMember.series_id)).all()
        )
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "name": r.name,
                "members": counts.get(r.id, 0),
                "notes": r.notes,
                "created_by": r.created_by,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            for r in s.scalars(select(Series).order_by(Series.name))
        ]
    render(rows, fmt, ["id", "name", "members", "created_by", "notes"], title="Series")


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="The series' name")],
    fmt: FormatOpt = "table",
    case: CaseOpt = None,
) -> None:
    """The members of one series, each with the other copies of its near-duplicate item."""
    handle = load_case(case)
    with handle.session() as s:
        sid = s.scalar(select(Series.id).where(Series.name == name))
        if sid is None:
            fail(f"no series named {name!r}")
        rows = [{**x, "added_at": x["added_at"].isoformat()} for x in members(s, sid)]
    render(rows, fmt, ["sha256", "kind", "added_by", "added_at", "copies"], title=name)
