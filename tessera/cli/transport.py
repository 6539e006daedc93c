"""The transport options both servers take (`tessera serve`, `tessera hub serve`) and their check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import fail
from tessera.netsafe import default_hosts, transport_problem

CertOpt = Annotated[
    Path | None, typer.Option("--certfile", help="TLS certificate (PEM); serves HTTPS with --keyfile.")
]
KeyfileOpt = Annotated[Path | None, typer.Option("--keyfile", help="TLS private key (PEM).")]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure-http",
        help="Allow a non-loopback --host without TLS (secrets in clear; only behind a TLS proxy).",
    ),
]
AllowedHostOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host", help="Host header to accept (repeat); default the bind address and localhost."
    ),
]


@dataclass(frozen=True)
class Transport:
    tls: bool
    hosts: frozenset[str]
    certfile: str | None  # for uvicorn's ssl_certfile / ssl_keyfile
    keyfile: str | None


def check_transport(
    host: str,
    certfile: Path | None,
    keyfile: Path | None,
    insecure_http: bool,
    allowed_host: list[str] | None,
) -> Transport:
    """One error line (exit 2) for a refused configuration, checked before anything is opened."""
    if (certfile is None) != (keyfile is None):
        fail("--certfile and --keyfile go together")
    problem = transport_problem(host, certfile is not None, insecure_http)
    if problem:
        fail(problem)
    for path in (certfile, keyfile):
        if path is not None and not path.is_file():
            fail(f"no such file: {path}")
    hosts = frozenset(h.lower() for h in allowed_host) if allowed_host else default_hosts(host)
    return Transport(
        certfile is not None, hosts, str(certfile) if certfile else None, str(keyfile) if keyfile else None
    )
