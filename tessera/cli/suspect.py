"""tessera suspect add | link | status | list: every change attributed and written to the audit log."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from sqlalchemy import select

from tessera.audit import append
from tessera.cli.common import CaseOpt, fail, load_case, out
from tessera.cli.listing import FormatOpt, render
from tessera.store import models as m

app = typer.Typer(help="Suspects: link accounts and devices, record status (audited).", no_args_is_help=True)

STATUSES = ("unidentified", "identified", "arrested", "charged", "convicted", "cleared")


def _user(user: str | None) -> str:
    who = user or os.environ.get("TESSERA_USER") or getpass.getuser()
    if not who:
        fail("who is deciding? pass --user or set TESSERA_USER")
    return who


UserOpt = Annotated[str | None, typer.Option("--user", help="Who decides (default TESSERA_USER or login).")]


@app.command("add")
def add(
    suspect_id: Annotated[str, typer.Argument(help="Suspect id, e.g. S01.")],
    alias: Annotated[str | None, typer.Option("--alias")] = None,
    jurisdiction: Annotated[str | None, typer.Option("--jurisdiction", help="ISO country code.")] = None,
    status: Annotated[str, typer.Option("--status")] = "unidentified",
    user: UserOpt = None,
    case: CaseOpt = None,
) -> None:
    if status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}")
    handle = load_case(case)
    who = _user(user)
    with handle.session() as s:
        if s.get(m.Suspect, suspect_id) is not None:
            fail(f"suspect {suspect_id} already exists")
        cc = jurisdiction.upper() if jurisdiction else None
        s.add(m.Suspect(id=suspect_id, alias=alias, status=status, jurisdiction=cc))
        append(s, who, "suspect.add", suspect_id, {"alias": alias, "jurisdiction": cc, "status": status})
        s.commit()
    out.print(f"suspect {suspect_id} added ({status})")


@app.command("link")
def link(
    suspect_id: Annotated[str, typer.Argument()],
    account: Annotated[
        list[str] | None, typer.Option("--account", help="Account (E.164 or platform:id).")
    ] = None,
    device: Annotated[list[str] | None, typer.Option("--device", help="Device id.")] = None,
    user: UserOpt = None,
    case: CaseOpt = None,
) -> None:
    """Link accounts and/or devices to a suspect."""
    handle = load_case(case)
    who = _user(user)
    with handle.session() as s:
        if s.get(m.Suspect, suspect_id) is None:
            fail(f"no suspect {suspect_id}")
        for key in account or []:
            acc_ids = list(s.scalars(select(m.Account.id).where(m.Account.key == key)))
            if not acc_ids:
                fail(f"no account {key} in this case (see tessera accounts)")
            for acc_id in acc_ids:
                if (
                    s.scalar(
                        select(m.SuspectAccount.id).where(
                            m.SuspectAccount.suspect_id == suspect_id, m.SuspectAccount.account_id == acc_id
                        )
                    )
                    is None
                ):
                    s.add(m.SuspectAccount(suspect_id=suspect_id, account_id=acc_id))
            append(s, who, "suspect.link_account", suspect_id, {"account": key})
        for dev_id in device or []:
            dev = s.get(m.Device, dev_id)
            if dev is None:
                fail(f"no device {dev_id} in this case")
            dev.suspect = suspect_id
            append(s, who, "suspect.link_device", suspect_id, {"device": dev_id})
        s.commit()
    out.print(f"linked to {suspect_id}: {len(account or [])} account(s), {len(device or [])} device(s)")


@app.command("status")
def status(
    suspect_id: Annotated[str, typer.Argument()],
    new_status: Annotated[str, typer.Argument(help="|".join(STATUSES))],
    user: UserOpt = None,
    case: CaseOpt = None,
) -> None:
    if new_status not in STATUSES:
        fail(f"status must be one of {', '.join(STATUSES)}")
    handle = load_case(case)
    who = _user(user)
    with handle.session() as s:
        sus = s.get(m.Suspect, suspect_id)
        if sus is None:
            fail(f"no suspect {suspect_id}")
        old, sus.status = sus.status, new_status
        append(s, who, "suspect.status", suspect_id, {"from": old, "to": new_status})
        s.commit()
    out.print(f"suspect {suspect_id}: {old} -> {new_status}")


@app.command("list")
def list_(fmt: FormatOpt = "table", case: CaseOpt = None) -> None:
    handle = load_case(case)
    with handle.session() as s:
        rows = []
        for sus in s.scalars(select(m.Suspect).order_by(m.Suspect.id)):
            accs = list(
                s.scalars(
                    select(m.Account.key)
                    .join(m.SuspectAccount, m.SuspectAccount.account_id == m.Account.id)
                    .where(m.SuspectAccount.suspect_id == sus.id)
                )
            )
            devs = list(s.scalars(select(m.Device.id).where(m.Device.suspect == sus.id)))
            rows.append(
                {
                    "suspect": sus.id,
                    "alias": sus.alias,
                    "status": sus.status,
                    "jurisdiction": sus.jurisdiction,
                    "accounts": accs,
                    "devices": devs,
                }
            )
    render(rows, fmt, ["suspect", "alias", "status", "jurisdiction", "accounts", "devices"], "Suspects")
