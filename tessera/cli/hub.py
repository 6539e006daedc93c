"""tessera hub ...: run a hub (serve, init, agencies, tokens, audit, export); use one (push, pull, query)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from tessera.cli.common import CaseOpt, fail, is_stdout, load_case, out, output_file, say
from tessera.cli.hub_audit import audit_app
from tessera.cli.hub_common import (
    DbOpt,
    HubUrlOpt,
    SummaryOpt,
    TextFormatOpt,
    TokenFileOpt,
    check_format,
    hub_session,
)
from tessera.cli.listing import emit_json, render
from tessera.cli.transport import AllowedHostOpt, CertOpt, InsecureOpt, KeyfileOpt, check_transport
from tessera.hub.client import HubClient

app = typer.Typer(help="The international hash-sharing hub and its client.", no_args_is_help=True)
agency_app = typer.Typer(help="Agencies that may use the hub.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (shown once, stored hashed).", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")


def _client(hub: str, token_file: Path) -> HubClient:
    from tessera.hub.client import HubClientError, read_token
    from tessera.logs import redact

    try:
        token = read_token(str(token_file))
        redact(token)  # masked in every log line should one ever be formatted into a message
        return HubClient(hub, token)
    except HubClientError as exc:
        fail(str(exc))


@app.command("init")
def init_cmd(db: DbOpt) -> None:
    """Create (or migrate) a hub database."""
    with hub_session(db, create=True):
        pass
    out.print(f"hub database ready: {db}")


#: Environment variable carrying ``hub serve``'s settings to its worker processes (``--workers``).
_SERVE_ENV = "TESSERA_HUB_SERVE"


def _serve_app(settings: dict[str, Any]) -> Any:
    """The hub application for one process: database, policy, Host check, catch-up, replica name."""
    from tessera.audit.log import AuditError
    from tessera.hub.app import create_app
    from tessera.hub.db import HubError, open_hub
    from tessera.hub.service import Policy
    from tessera.netsafe import AllowedHosts

    try:
        engine = open_hub(settings["db"])
        policy = Policy(
            share_contributors=settings["share_contributors"], rate=settings["rate"], burst=settings["burst"]
        )
        hub = create_app(
            engine,
            policy,
            catchup_interval=settings["catchup_interval"],
            replica=settings["replica"],
            index_profile=settings["index_profile"],
        )
    except (HubError, AuditError) as exc:
        fail(str(exc))
    app = AllowedHosts(hub, frozenset(settings["hosts"]))
    # Everything alive now (modules, the loaded index's bookkeeping) lives as long as the server: move
    # it out of the collector's sight. Profiled: full collections over it were the slowest 1% of
    # queries (up to ~100 ms each); afterwards they only walk what requests allocate.
    gc.collect()
    gc.freeze()
    return app


def worker_app() -> Any:
    """Factory uvicorn calls in each ``--workers`` process (settings come through the environment)."""
    return _serve_app(json.loads(os.environ[_SERVE_ENV]))


@app.command("serve")
def serve_cmd(
    db: DbOpt,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8700,
    share_contributors: Annotated[
        bool, typer.Option("--share-contributors", help="Let agencies see who else contributed an entry.")
    ] = False,
    rate: Annotated[float, typer.Option("--rate", help="Requests per second per token (average).")] = 200.0,
    burst: Annotated[int, typer.Option("--burst", help="Requests a token may send at once.")] = 400,
    certfile: CertOpt = None,
    keyfile: KeyfileOpt = None,
    insecure_http: InsecureOpt = False,
    allowed_host: AllowedHostOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, help="Hub processes sharing this address (each holds its own PDQ index)."
        ),
    ] = 1,
    catchup_interval: Annotated[
        float,
        typer.Option(
            "--catchup-interval",
            min=0.0,
            help="Seconds between catch-ups of the PDQ index with entries other hub processes committed "
            "(0: only when a query asks).",
        ),
    ] = 1.0,
    index_profile: Annotated[
        str,
        typer.Option(
            "--index-profile",
            help="PDQ index memory: compact (~110 B/entry, 0.3 ms/query at 10M entries), fast (300-500 "
            "B/entry, 0.12 ms/query) or minimal (64 B/entry, every query a full scan: 4 ms at 10M).",
        ),
    ] = "compact",
    replica_name: Annotated[
        str | None,
        typer.Option(
            "--replica-name",
            help="This process's name in the X-Tessera-Replica header, pid appended (default: hub).",
        ),
    ] = None,
) -> None:
    """Serve the hub API: on 127.0.0.1 by default; on another address only with TLS (or, behind a
    TLS-terminating proxy, --insecure-http), answering only the Host names allowed. Several processes
    (--workers, or separate ones behind a proxy) may serve one PostgreSQL database."""
    import uvicorn

    from tessera.hub.index import PROFILES

    if index_profile not in PROFILES:
        fail(f"--index-profile: one of {', '.join(sorted(PROFILES))}, not {index_profile!r}")
    transport = check_transport(host, certfile, keyfile, insecure_http, allowed_host)
    settings = {
        "db": db,
        "share_contributors": share_contributors,
        "rate": rate,
        "burst": burst,
        "hosts": sorted(transport.hosts),
        "catchup_interval": catchup_interval or None,
        "replica": replica_name,
        "index_profile": index_profile,
    }
    cert, key = transport.certfile, transport.keyfile
    if workers == 1:
        app_ = _serve_app(settings)
        uvicorn.run(app_, host=host, port=port, log_level="warning", ssl_certfile=cert, ssl_keyfile=key)
        return
    if db.startswith("sqlite"):
        fail("--workers needs PostgreSQL: on SQLite every transaction waits for the one before it")
    # uvicorn binds the address once and starts each worker afresh (spawn), importing the factory.
    os.environ[_SERVE_ENV] = json.dumps(settings)
    uvicorn.run(
        "tessera.cli.hub:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=cert,
        ssl_keyfile=key,
    )


@agency_app.command("add")
def agency_add(code: str, name: str, db: DbOpt) -> None:
    """Register an agency (CODE: e.g. a country code and unit, NL-NP)."""
    from tessera.hub import audit
    from tessera.hub.auth import add_agency

    with hub_session(db) as (_, s):
        agency = add_agency(s, code, name)
        audit.append(s, "operator", "agency add", code, {"name": name})
        s.commit()
    out.print(f"agency {agency.code} added (id {agency.id})")


@agency_app.command("list")
def agency_list(db: DbOpt, fmt: TextFormatOpt = "text") -> None:
    """List agencies with their number of unrevoked tokens (tab-separated)."""
    from tessera.hub.auth import list_agencies

    check_format(fmt, ("text", "json", "csv"))
    with hub_session(db) as (_, s):
        rows = list_agencies(s)
    if fmt != "text":
        render(rows, fmt, ("code", "name", "active_tokens"))
        return
    for a in rows:
        typer.echo(f"{a['code']}\t{a['name']}\t{a['active_tokens']} active token(s)")


@token_app.command("list")
def token_list(
    db: DbOpt,
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency's tokens.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Leave out revoked tokens.")] = False,
    fmt: TextFormatOpt = "text",
) -> None:
    """List tokens, tab-separated: id, agency, first characters, scopes, state, label (never the token)."""
    from tessera.hub.auth import list_tokens

    check_format(fmt, ("text", "json", "csv"))
    with hub_session(db) as (_, s):
        rows = list_tokens(s, agency, revoked=not active)
    if fmt != "text":
        render(rows, fmt, ("id", "agency", "prefix", "scopes", "created_at", "revoked_at", "label"))
        return
    for t in rows:
        state = f"revoked {t['revoked_at']:%Y-%m-%d %H:%M}" if t["revoked_at"] else "active"
        label = t["label"] or ""
        typer.echo(f"{t['id']}\t{t['agency']}\t{t['prefix']}...\t{','.join(t['scopes'])}\t{state}\t{label}")


@token_app.command("create")
def token_create(
    agency: str,
    db: DbOpt,
    scope: Annotated[list[str], typer.Option("--scope", help="contribute, query or admin (repeatable).")],
    label: Annotated[str | None, typer.Option("--label")] = None,
) -> None:
    """Create a token for AGENCY and print it once: it is stored only as a hash."""
    from tessera.hub import audit
    from tessera.hub.auth import create_token

    scopes = [p.strip() for s in scope for p in s.split(",") if p.strip()]
    with hub_session(db) as (_, s):
        token_id, token = create_token(s, agency, scopes, label)
        audit.append(s, "operator", "token create", agency, {"token_id": token_id, "scopes": sorted(scopes)})
        s.commit()
    typer.echo(
        f"token {token_id} for {agency} ({', '.join(sorted(scopes))}); shown once, keep it safe:", err=True
    )
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(token_id: int, db: DbOpt) -> None:
    """Revoke a token by id: refused from the next request on."""
    from tessera.hub import audit
    from tessera.hub.auth import revoke_token

    with hub_session(db) as (_, s):
        revoke_token(s, token_id)
        audit.append(s, "operator", "token revoke", str(token_id), {})
        s.commit()
    out.print(f"token {token_id} revoked")


@app.command("export")
def export_cmd(
    db: DbOpt,
    out_file: Annotated[Path, typer.Option("--out", help="File to write, or - for standard output.")],
    fmt: Annotated[str, typer.Option("--format", help="vics (VICS 2.0 JSON) or icse (ICSE CSV).")] = "vics",
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", help="VICS: the category profile to export (needed when the hub holds several)."
        ),
    ] = None,
) -> None:
    """Export the hub's entries (hashes and metadata; never who contributed them). Audited."""
    from tessera.hub import audit
    from tessera.hub.export import export_icse, export_vics, vics_variant

    if fmt not in ("vics", "icse"):
        fail("--format must be vics or icse")
    with hub_session(db) as (_, s), output_file(out_file) as path:
        details: dict[str, Any] = {"format": fmt}
        if fmt == "vics":
            details["profile"], _ = vics_variant(s, profile, "2.0")  # refused before the file exists
            n = export_vics(s, path, profile=details["profile"])
        else:
            n = export_icse(s, path)
        # Exports leave the hub for other agencies: who took what, and how much, is on the record.
        name = "(standard output)" if is_stdout(out_file) else out_file.name[:300]
        audit.append(s, "operator", "export", name, details | {"entries": n})
        s.commit()
    say(out_file).print(f"exported {n:,} entries to {'standard output' if is_stdout(out_file) else out_file}")


@app.command("push")
def push_cmd(
    hub: HubUrlOpt, token_file: TokenFileOpt, fmt: SummaryOpt = "text", case: CaseOpt = None
) -> None:
    """Contribute the case's categorised and matched media (hashes and metadata only); safe to re-run."""
    from tessera.hub.caseside import contributions
    from tessera.hub.client import HubClientError

    check_format(fmt, ("text", "json"))
    handle = load_case(case)
    with _client(hub, token_file) as client:
        try:
            totals = client.push(contributions(handle))
        except HubClientError as exc:
            fail(str(exc))
    if fmt == "json":
        emit_json(totals)
        return
    new = (
        "" if totals["new_hidden"] else f"{totals['new_entries']:,} new to the hub, "
    )  # a contribute-only token is not told which hashes the hub already had
    replayed = f" ({totals['duplicate_batches']} already applied)" if totals["duplicate_batches"] else ""
    out.print(
        f"pushed {totals['items']:,} items in {totals['batches']} batches{replayed}: {new}"
        f"{totals['changed']:,} contributions added or changed"
    )


@app.command("pull")
def pull_cmd(
    hub: HubUrlOpt, token_file: TokenFileOpt, fmt: SummaryOpt = "text", case: CaseOpt = None
) -> None:
    """Fetch hub changes since the last pull into the case's hub hash set and match the case against it."""
    from dataclasses import asdict

    from tessera.hub.caseside import pull
    from tessera.hub.client import HubClientError

    check_format(fmt, ("text", "json"))
    handle = load_case(case)
    with _client(hub, token_file) as client:
        try:
            res = pull(handle, client)
        except HubClientError as exc:
            fail(f"{exc} (the pull resumes from the last completed page when run again)")
    if fmt == "json":
        emit_json(asdict(res))
        return
    out.print(
        f"{res.hashset}: {res.received:,} entries received, {res.removed:,} withdrawn; {res.entries:,} "
        f"in the set (cursor {res.cursor}); {res.hits:,} matches in the case"
    )


@app.command("push-benign")
def push_benign_cmd(
    hub: HubUrlOpt, token_file: TokenFileOpt, fmt: SummaryOpt = "text", case: CaseOpt = None
) -> None:
    """Share the case's known-benign set (tessera hashset mark-benign) as the hub's benign list."""
    from tessera.hub.benign import push_benign
    from tessera.hub.client import HubClientError

    check_format(fmt, ("text", "json"))
    handle = load_case(case)
    with _client(hub, token_file) as client:
        try:
            totals = push_benign(handle, client)
        except HubClientError as exc:
            fail(str(exc))
    if fmt == "json":
        emit_json(totals)
        return
    out.print(
        f"pushed {totals['received']:,} known-benign values: {totals['changed']:,} marks added for this"
        f" agency, {totals['new']:,} new to the hub's list"
    )


@app.command("pull-benign")
def pull_benign_cmd(
    hub: HubUrlOpt, token_file: TokenFileOpt, fmt: SummaryOpt = "text", case: CaseOpt = None
) -> None:
    """Fetch the hub's known-benign list into the case (a known-good set: out of review and counts)."""
    from dataclasses import asdict

    from tessera.hub.benign import pull_benign
    from tessera.hub.client import HubClientError

    check_format(fmt, ("text", "json"))
    handle = load_case(case)
    with _client(hub, token_file) as client:
        try:
            res = pull_benign(handle, client)
        except HubClientError as exc:
            fail(f"{exc} (the pull resumes from the last completed page when run again)")
    if fmt == "json":
        emit_json(asdict(res))
        return
    out.print(
        f"{res.hashset}: {res.added:,} added, {res.removed:,} withdrawn; {res.entries:,} in the set"
        f" (cursor {res.cursor})"
    )


@app.command("query")
def query_cmd(
    hub: HubUrlOpt,
    token_file: TokenFileOpt,
    hashes: Annotated[
        list[str], typer.Argument(help="MD5, SHA-1, SHA-256 or PDQ hex values (PDQ: pdq:HEX).")
    ],
) -> None:
    """Ask the hub about a few hashes; prints JSON."""
    from tessera.hub.client import HubClientError

    by_alg: dict[str, list[str]] = {"md5": [], "sha1": [], "sha256": [], "pdq": []}
    for h in hashes:
        if h.startswith("pdq:"):
            by_alg["pdq"].append(h[4:])
        else:
            alg = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(h))
            if alg is None:
                fail(f"{h!r} is not an MD5, SHA-1 or SHA-256 hex digest")
            by_alg[alg].append(h)
    with _client(hub, token_file) as client:
        try:
            results = client.query(by_alg)
        except HubClientError as exc:
            fail(str(exc))
    out.print_json(json.dumps(results))
