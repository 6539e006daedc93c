"""The ``tessera`` command line: thin modules that parse arguments, call the library and print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tessera.cli import (
    audit,
    batch,
    cameras,
    case,
    export,
    hashset,
    hub,
    ingest,
    matches,
    network,
    plugins,
    report,
    series,
    serve,
    sources,
    spread,
    suspect,
    timeline,
    user,
)
from tessera.cli.common import (
    EXIT_DATABASE,
    EXIT_USAGE,
    CliError,
    DatabaseFault,
    database_error,
    fail,
    print_error,
)
from tessera.evidence import EvidenceError
from tessera.records import FormatError
from tessera.store.db import StoreError

app = typer.Typer(
    help="Tessera: triage seized devices for known and new material; hashes and metadata only leave a case.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(case.app, name="case")
app.add_typer(hashset.app, name="hashset")
app.add_typer(export.app, name="export")
app.command("ingest")(ingest.command)
app.command("ingest-batch")(batch.command)
app.command("matches")(matches.command)
app.command("sources")(sources.command)
app.command("report")(report.command)
app.add_typer(suspect.app, name="suspect")
app.add_typer(audit.app, name="audit")
app.add_typer(user.app, name="user")
app.add_typer(hub.app, name="hub")
app.command("serve")(serve.command)
app.command("accounts")(network.accounts_cmd)
app.command("persons")(network.persons_cmd)
app.command("groups")(network.groups_cmd)
app.command("timeline")(timeline.command)
app.command("places")(timeline.places_cmd)
app.command("bridges")(network.bridges_cmd)
app.command("graph")(network.graph_cmd)
app.command("referrals")(network.referrals_cmd)
app.command("spread")(spread.command)
app.command("cameras")(cameras.command)
app.add_typer(series.app, name="series")
app.command("plugins")(plugins.command)


@app.callback()
def root(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="Log what runs on standard error: -v INFO, -vv DEBUG."
        ),
    ] = 0,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            help="Append the log as JSON lines (INFO, DEBUG with -vv) to this file; no secrets, no content.",
        ),
    ] = None,
) -> None:
    """Tessera: triage seized devices for known and new material; hashes and metadata only leave a case."""
    from tessera.logs import configure

    try:
        configure(verbose, log_file)
    except OSError as exc:
        fail(f"cannot open --log-file {log_file}: {exc.strerror or exc}")


@app.command("demo")
def demo_cmd(
    out: str = typer.Option("demo-out", "--out", help="Directory for the synthetic operation and its case."),
) -> None:
    """Synthesize a small operation and run the whole workflow on it."""
    from tessera.cli.demo import run_demo

    run_demo(out)


def main() -> None:
    from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, ProgrammingError

    try:
        rv = app(standalone_mode=False)
        if isinstance(rv, int) and rv:
            if rv == 130:  # Typer turns Ctrl-C into a returned exit code 130, silently
                print_error("interrupted; run the same command again to resume")
            sys.exit(rv)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (
        CliError,
        StoreError,
        FormatError,
        EvidenceError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        ArgumentError,
    ) as exc:
        print_error(str(exc))
        sys.exit(EXIT_USAGE)
    except DatabaseFault as exc:
        print_error(str(exc))
        sys.exit(EXIT_DATABASE)
    except DatabaseError as exc:  # OperationalError too
        if isinstance(exc, (IntegrityError, ProgrammingError)):
            raise  # a bug of ours, not a database that cannot be used
        # Its own exit code, not 2 "bad invocation": nothing the user typed was wrong, and a script
        # should wait for the server (or free the locked file) and run the same command again, which
        # resumes a run it cut short. Not 1 either: that would claim the command finished.
        print_error(database_error(exc))
        sys.exit(EXIT_DATABASE)
    except (typer.Abort, KeyboardInterrupt):
        print_error("interrupted; run the same command again to resume")
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        # Typer 0.2x raises its own vendored copies of click's exceptions: matched by what they offer.
        if isinstance(exc, click.exceptions.ClickException) or hasattr(exc, "format_message"):
            print_error(exc.format_message())
            sys.exit(EXIT_USAGE)
        if type(exc).__name__ == "Abort":
            print_error("interrupted; run the same command again to resume")
            sys.exit(130)
        raise
