"""tessera sources: every messaging source and what became of it."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from tessera.cli.common import CaseOpt, load_case
from tessera.cli.listing import FormatOpt, render
from tessera.messaging.inventory import inventory
from tessera.store.case import CaseHandle
from tessera.store.models_device import DeviceFact
from tessera.store.queries import messaging_sources

COLUMNS = ["device", "locator", "parser", "status", "messages", "coverage", "reason"]
APP_COLUMNS = ["device", "app", "status", "messages", "sources", "device_path", "reason"]


def command(
    fmt: FormatOpt = "table",
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="complete|partial|failed|not parsed")] = None,
    case: CaseOpt = None,
    apps: Annotated[
        bool, typer.Option("--apps", help="The app inventory: each known messaging app, once per device.")
    ] = False,
) -> None:
    """Messaging sources: parsed in full, partial or failed (with the reason and the counts), and
    known apps' data present but not parsed. JSON carries each source's whole reconciliation."""
    handle = load_case(case)
    if apps:
        with handle.session() as s:
            found = inventory(s, device)
        render([r for r in found if not status or r["status"] == status], fmt, APP_COLUMNS, "Messaging apps")
        return
    with handle.session() as s:
        rows = messaging_sources(s, device)
    if status:
        rows = [r for r in rows if r["status"] == status]
    render(rows, fmt, COLUMNS, "Messaging sources")
    if fmt == "table" and (facts := device_fact_rows(handle, device)):  # JSON/CSV: sources only
        render(facts, fmt, FACT_COLUMNS, "Device facts (from the extractions)")


FACT_COLUMNS = ["device", "fact", "value", "stated by"]


def device_fact_rows(handle: CaseHandle, device: str | None) -> list[dict[str, str]]:
    """What extractions (backups, UFDR reports) state about each phone, with the file that states it."""
    q = select(DeviceFact.device_id, DeviceFact.name, DeviceFact.value, DeviceFact.source)
    if device:
        q = q.where(DeviceFact.device_id == device)
    with handle.session() as s:
        rows = s.execute(q.order_by(DeviceFact.device_id, DeviceFact.name, DeviceFact.source)).all()
    return [dict(zip(FACT_COLUMNS, row, strict=True)) for row in rows]
