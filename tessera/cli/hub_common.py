"""What the hub's command modules share: the database option and a session on the hub database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tessera.cli.common import fail

DbOpt = Annotated[str, typer.Option("--db", help="Hub database URL (postgresql://... or sqlite:///hub.db).")]
HubUrlOpt = Annotated[str, typer.Option("--hub", help="Hub URL, e.g. https://hub.example.org")]
TokenFileOpt = Annotated[Path, typer.Option("--token-file", help="File holding this agency's API token.")]
TextFormatOpt = Annotated[str, typer.Option("--format", help="text (tab-separated)|json|csv")]
SummaryOpt = Annotated[str, typer.Option("--format", help="text|json: the summary on standard output")]


def check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        fail(f"--format must be {', '.join(allowed[:-1])} or {allowed[-1]}")


@contextmanager
def hub_session(db: str, create: bool = False) -> Iterator[tuple[Engine, Session]]:
    from tessera.hub.db import HubError, open_hub, sessions

    try:
        engine = open_hub(db, create=create)
    except HubError as exc:
        fail(str(exc))
    try:
        with sessions(engine)() as s:
            yield engine, s
    except HubError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
