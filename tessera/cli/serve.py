"""tessera serve: the review workstation on 127.0.0.1 (another address only when asked)."""

from __future__ import annotations

from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, console, fail, load_case


def command(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; keep 127.0.0.1 unless told.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8080,
    lock_after: Annotated[
        int, typer.Option("--lock-after", min=1, help="Wrong passwords in a row that lock an account.")
    ] = 10,
    case: CaseOpt = None,
) -> None:
    """Start the review workstation (sign in with a user made by `tessera user add`)."""
    import uvicorn
    from sqlalchemy import func, select

    from tessera.review import create_app
    from tessera.review.clusters import update_clusters
    from tessera.store.models_review import ReviewUser

    handle = load_case(case)
    with handle.session() as s:
        if not s.scalar(select(func.count()).select_from(ReviewUser)):
            fail("no users yet: run `tessera user add NAME --role examiner` first")
        # Clusters are computed once per case and then only for media that arrived since.
        n = update_clusters(s)
        s.commit()
    if n:
        console.print(f"clustered {n:,} new media items", highlight=False)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"warning: listening on {host}: other machines can reach this server", highlight=False)
    console.print(f"Tessera review workstation: http://{host}:{port}/", highlight=False)
    uvicorn.run(create_app(handle, lock_after=lock_after), host=host, port=port, log_level="warning")
