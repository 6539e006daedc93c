"""tessera audit verify | anchor | keygen | list"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import func, select

from tessera.audit import AuditError, AuditKey, AuditKeyError, create_key, load_key, verify_all
from tessera.audit.keys import default_path, register
from tessera.audit.receipt import anchor, read_receipt
from tessera.cli.common import EXIT_PARTIAL, CaseOpt, console, fail, load_case, out
from tessera.cli.listing import FormatOpt, render
from tessera.store import models as m
from tessera.store.case import CaseHandle

app = typer.Typer(help="The hash-chained, keyed audit log of human decisions.", no_args_is_help=True)

KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Audit key file (default: $TESSERA_AUDIT_KEY, else CASE_DIR/audit.key).",
        show_default=False,
    ),
]


def _key_path(handle: CaseHandle, given: Path | None) -> Path:
    path = given or default_path(handle.directory)
    # Later appends in this process (none today, but cheap) use the same key as the check.
    register(handle.engine, path)
    return path


def _load(path: Path, given: bool = False) -> AuditKey | None:
    if not path.exists():
        if given:
            fail(f"audit key {path} does not exist")
        return None
    try:
        return load_key(path)
    except AuditKeyError as exc:
        fail(str(exc))


@app.command("verify")
def verify_cmd(
    receipt: Annotated[
        list[Path] | None,
        typer.Option("--receipt", help="A receipt from `tessera audit anchor` (repeatable)."),
    ] = None,
    key: KeyOpt = None,
    case: CaseOpt = None,
) -> None:
    """Check every entry's hash, link and MAC, the receipts and the decision table; exit 1 naming the
    first bad entry."""
    handle = load_case(case)
    audit_key = _load(_key_path(handle, key), given=key is not None)
    with handle.session() as s:
        try:
            receipts = [read_receipt(p) for p in receipt or []]
            res = verify_all(s, audit_key, receipts, find_key=False)
        except AuditError as exc:
            console.print(f"audit log FAILED verification: {exc}", highlight=False, markup=False)
            raise typer.Exit(EXIT_PARTIAL) from None
    keyed = (
        "no key, MACs not checked"
        if audit_key is None
        else f"MACs checked from entry {audit_key.from_sequence}"
    )
    out.print(
        f"audit log verified: {res.entries:,} entries, chain intact ({keyed}); "
        f"{res.decisions:,} decision rows match the log; {res.receipts} receipt(s) hold"
    )
    for note in res.notes:
        console.print(f"note: {note}", highlight=False, markup=False)


@app.command("anchor")
def anchor_cmd(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the receipt here (default: print it).")
    ] = None,
    key: KeyOpt = None,
    case: CaseOpt = None,
) -> None:
    """Write a MACed receipt of the chain head; keep it outside the case (verify --receipt checks it)."""
    handle = load_case(case)
    path = _key_path(handle, key)
    audit_key = _load(path)
    if audit_key is None:
        fail(f"no audit key at {path}: run `tessera audit keygen` first")
    with handle.session() as s:
        try:
            body: dict[str, Any] = anchor(s, audit_key)
        except AuditError as exc:
            console.print(
                f"not anchoring: audit log FAILED verification: {exc}", highlight=False, markup=False
            )
            raise typer.Exit(EXIT_PARTIAL) from None
    text = json.dumps(body, indent=2) + "\n"
    if out_file is None:
        out.print(text, end="", markup=False)
        return
    try:
        with open(out_file, "x", encoding="utf-8") as fh:  # never overwrite an older receipt
            fh.write(text)
    except OSError as exc:
        fail(f"cannot write receipt {out_file}: {exc.strerror or exc}")
    out.print(f"receipt written to {out_file}: entry {body['sequence']}, head {body['head_hash'][:16]}…")


@app.command("keygen")
def keygen_cmd(key: KeyOpt = None, case: CaseOpt = None) -> None:
    """Create the audit key of a case that has none (mode 0600); entries from the next one on carry a
    MAC, older entries stay hash-chained only."""
    handle = load_case(case)
    path = _key_path(handle, key)
    with handle.session() as s:
        last = s.scalar(select(func.max(m.AuditEntry.id))) or 0
    try:
        create_key(path, from_sequence=last + 1)
    except (AuditKeyError, OSError) as exc:
        fail(str(exc))
    out.print(
        f"audit key created at {path} (mode 600); entries from {last + 1} on will carry a MAC, "
        f"the {last:,} earlier entries stay hash-chained only. Move the key off the case's storage "
        "and point TESSERA_AUDIT_KEY at it."
    )
    if os.environ.get("TESSERA_AUDIT_KEY") is None and key is not None:
        console.print(f"note: set TESSERA_AUDIT_KEY={key} for every tessera process of this case")


@app.command("list")
def list_cmd(
    fmt: FormatOpt = "table",
    limit: Annotated[int, typer.Option("--limit", help="Newest N entries.")] = 100,
    case: CaseOpt = None,
) -> None:
    handle = load_case(case)
    with handle.session() as s:
        rows = [
            {
                "id": e.id,
                "at": e.at,
                "user": e.user,
                "action": e.action,
                "subject": e.subject,
                "details": e.details,
                "hash": e.hash,
            }
            for e in s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(limit))
        ]
    render(rows, fmt, ["id", "at", "user", "action", "subject", "details"], "Audit log")
