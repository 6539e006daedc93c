"""tessera serve: the review workstation on 127.0.0.1 (another address only when asked, and then TLS)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, console, fail, load_case
from tessera.netsafe import is_loopback, transport_problem


def command(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; keep 127.0.0.1 unless told.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8080,
    lock_after: Annotated[
        int, typer.Option("--lock-after", min=1, help="Wrong passwords in a row that lock an account.")
    ] = 10,
    certfile: Annotated[
        Path | None, typer.Option("--certfile", help="TLS certificate (PEM); serves HTTPS with --keyfile.")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option("--keyfile", help="TLS private key (PEM).")] = None,
    insecure_http: Annotated[
        bool,
        typer.Option("--insecure-http", help="Allow a non-loopback --host without TLS (passwords in clear)."),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host", help="Host header to accept (repeat); default the bind address and localhost."
        ),
    ] = None,
    case: CaseOpt = None,
) -> None:
    """Start the review workstation (sign in with a user made by `tessera user add`)."""
    import uvicorn
    from sqlalchemy import func, select

    from tessera.review import create_app
    from tessera.review.clusters import update_clusters
    from tessera.review.guards import default_hosts
    from tessera.store.models_review import ReviewUser

    # Checked before the case is opened: a refused configuration must not touch anything.
    if (certfile is None) != (keyfile is None):
        fail("--certfile and --keyfile go together")
    tls = certfile is not None
    problem = transport_problem(host, tls, insecure_http)
    if problem:
        fail(problem)
    for path in (certfile, keyfile):
        if path is not None and not path.is_file():
            fail(f"no such file: {path}")
    hosts = frozenset(h.lower() for h in allowed_host) if allowed_host else default_hosts(host)

    handle = load_case(case)
    with handle.session() as s:
        if not s.scalar(select(func.count()).select_from(ReviewUser)):
            fail("no users yet: run `tessera user add NAME --role examiner` first")
        # Clusters are computed once per case and then only for media that arrived since.
        n = update_clusters(s)
        s.commit()
    if n:
        console.print(f"clustered {n:,} new media items", highlight=False)
    if not is_loopback(host):
        console.print(f"warning: listening on {host}: other machines can reach this server", highlight=False)
    scheme = "https" if tls else "http"
    console.print(f"Tessera review workstation: {scheme}://{host}:{port}/", highlight=False)
    app = create_app(handle, lock_after=lock_after, secure_cookies=tls, allowed_hosts=hosts)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
    )
