"""tessera serve: the review workstation on 127.0.0.1 (another address only when asked, and then TLS)."""

from __future__ import annotations

from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, console, fail, load_case
from tessera.cli.transport import AllowedHostOpt, CertOpt, InsecureOpt, KeyfileOpt, check_transport
from tessera.netsafe import is_loopback


def command(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; keep 127.0.0.1 unless told.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8080,
    lock_after: Annotated[
        int, typer.Option("--lock-after", min=1, help="Wrong passwords in a row that lock an account.")
    ] = 10,
    certfile: CertOpt = None,
    keyfile: KeyfileOpt = None,
    insecure_http: InsecureOpt = False,
    allowed_host: AllowedHostOpt = None,
    case: CaseOpt = None,
) -> None:
    """Start the review workstation (sign in with a user made by `tessera user add`)."""
    import uvicorn
    from sqlalchemy import func, select

    from tessera.review import create_app
    from tessera.review.clusters import update_clusters
    from tessera.store.models_review import ReviewUser

    # Checked before the case is opened: a refused configuration must not touch anything.
    transport = check_transport(host, certfile, keyfile, insecure_http, allowed_host)
    tls = transport.tls

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
    app = create_app(handle, lock_after=lock_after, secure_cookies=tls, allowed_hosts=transport.hosts)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=transport.certfile,
        ssl_keyfile=transport.keyfile,
    )
