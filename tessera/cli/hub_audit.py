"""`tessera hub audit`: the hub's keyed, hash-chained request log (keygen, anchor, verify)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import fail, out
from tessera.cli.hub_common import DbOpt, hub_session

audit_app = typer.Typer(help="The hub's hash-chained request log.", no_args_is_help=True)

HubKeyOpt = Annotated[
    Path | None,
    typer.Option("--key", help="The hub's audit key file (default: $TESSERA_HUB_AUDIT_KEY)."),
]


def _hub_key_path(key: Path | None) -> Path | None:
    from tessera.hub.audit import HUB_KEY_ENV

    if key is not None:
        return key
    env = os.environ.get(HUB_KEY_ENV)
    return Path(env) if env else None


@audit_app.command("keygen")
def audit_keygen(
    db: DbOpt,
    key: Annotated[Path, typer.Option("--key", help="Where to write the new key (mode 0600).")],
) -> None:
    """Create the hub's audit key: entries after the current last one are keyed (HMAC-SHA256). Keep
    the file off the database's machine and point $TESSERA_HUB_AUDIT_KEY at it when serving."""
    from tessera.audit.keys import AuditKeyError
    from tessera.hub.audit import create_hub_key

    if key.exists():
        fail(f"{key} exists: a key is never overwritten")
    with hub_session(db) as (_, s):
        try:
            made = create_hub_key(s, key)
        except (AuditKeyError, OSError) as exc:
            fail(f"cannot create the hub audit key: {exc}")
    out.print(f"hub audit key written to {key} (0600); keyed from entry #{made.from_sequence}")


@audit_app.command("anchor")
def audit_anchor(
    db: DbOpt,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the receipt here.")] = None,
    key: HubKeyOpt = None,
) -> None:
    """Verify the hub log, then write a MACed receipt of its head to keep elsewhere."""
    import json

    from tessera.hub.audit import AuditError, anchor, hub_key

    path = _hub_key_path(key)
    try:
        audit_key = hub_key(path) if path is not None else None
    except AuditError as exc:
        fail(str(exc))
    if audit_key is None:
        fail("no hub audit key: run `tessera hub audit keygen --key FILE` and set $TESSERA_HUB_AUDIT_KEY")
    with hub_session(db) as (_, s):
        try:
            body = anchor(s, audit_key)
        except AuditError as exc:
            out.print(f"not anchoring: hub audit log FAILED verification: {exc}")
            raise typer.Exit(1) from None
    text = json.dumps(body, indent=2) + "\n"
    if out_file is None:
        out.print(text, end="", markup=False)
        return
    if out_file.exists():
        fail(f"{out_file} exists: receipts are never overwritten")
    out_file.write_text(text, encoding="utf-8")
    out.print(f"receipt of entry #{body.get('sequence')} written to {out_file}")


@audit_app.command("verify")
def audit_verify(
    db: DbOpt,
    receipt: Annotated[
        list[Path] | None, typer.Option("--receipt", help="A receipt from `hub audit anchor` (repeatable).")
    ] = None,
    key: HubKeyOpt = None,
) -> None:
    """Check the hub audit chain (keyed where a key is given) and the receipts; exits 1 naming the
    first altered, removed or reordered entry."""
    from tessera.audit.receipt import read_receipt
    from tessera.hub.audit import AuditError, hub_key, verify_all

    path = _hub_key_path(key)
    with hub_session(db) as (_, s):
        try:
            audit_key = hub_key(path) if path is not None else None
            receipts = [read_receipt(p) for p in receipt or []]
            res = verify_all(s, audit_key, receipts, find_key=False)
        except AuditError as exc:
            out.print(f"hub audit log BROKEN: {exc}")
            raise typer.Exit(1) from None
    out.print(f"hub audit log intact: {res.entries:,} entries; {res.receipts} receipt(s) hold")
    for note in res.notes:
        out.print(f"note: {note}", markup=False)
