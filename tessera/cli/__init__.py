"""The ``tessera`` command line: thin modules that parse arguments, call the library and print."""

from __future__ import annotations

import logging
import sys
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

import typer

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

#: Sub-apps and commands by name: (module under tessera.cli, attribute, "group" or "command"). Only the
#: module of the command being run is imported (``main``): importing all of them took ~0.75 s of the
#: CLI's ~1.2 s start-up, longer than hashdeep needs for a 30,000-file tree (issue 16).
_ENTRIES: dict[str, tuple[str, str, str]] = {
    "case": ("case", "app", "group"),
    "hashset": ("hashset", "app", "group"),
    "export": ("export", "app", "group"),
    "ingest": ("ingest", "command", "command"),
    "ingest-batch": ("batch", "command", "command"),
    "matches": ("matches", "command", "command"),
    "sources": ("sources", "command", "command"),
    "report": ("report", "command", "command"),
    "suspect": ("suspect", "app", "group"),
    "audit": ("audit", "app", "group"),
    "user": ("user", "app", "group"),
    "hub": ("hub", "app", "group"),
    "serve": ("serve", "command", "command"),
    "accounts": ("network", "accounts_cmd", "command"),
    "persons": ("network", "persons_cmd", "command"),
    "groups": ("network", "groups_cmd", "command"),
    "timeline": ("timeline", "command", "command"),
    "places": ("timeline", "places_cmd", "command"),
    "bridges": ("network", "bridges_cmd", "command"),
    "graph": ("network", "graph_cmd", "command"),
    "referrals": ("network", "referrals_cmd", "command"),
    "spread": ("spread", "command", "command"),
    "cameras": ("cameras", "command", "command"),
    "series": ("series", "app", "group"),
    "plugins": ("plugins", "command", "command"),
}


_GROUPS = frozenset(name for name, (_m, _a, kind) in _ENTRIES.items() if kind == "group")

_HELP = "Tessera: triage seized devices for known and new material; hashes and metadata only leave a case."


def build_app(only: str | None = None) -> typer.Typer:
    """The command line with every command, or with only ``only`` (and ``demo``) registered."""
    app = typer.Typer(
        help=_HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(root)
    for name, (module, attr, kind) in _ENTRIES.items():
        if only is not None and name != only:
            continue
        obj = getattr(import_module(f"tessera.cli.{module}"), attr)
        if kind == "group":
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)
    app.command("demo")(demo_cmd)
    return app


#: The root options that take a value (skipped with it to find the command's name).
_ROOT_VALUED = ("--log-file", "--case")


def _command_named(argv: list[str]) -> str | None:
    """The command ``argv`` runs, if it names one; None (build everything) for help and the unknown."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _ROOT_VALUED:
            i += 2
            continue
        if (
            arg.startswith(tuple(f"{o}=" for o in _ROOT_VALUED))
            or arg == "--verbose"
            or (arg.startswith("-v") and set(arg[1:]) == {"v"})
        ):
            i += 1
            continue
        return arg if arg in _ENTRIES else None
    return None


def __getattr__(name: str) -> Any:
    # ``from tessera.cli import app`` (tests, scripting) gets the whole command line, built once.
    if name == "app":
        global _app
        if _app is None:
            _app = build_app()
        return _app
    raise AttributeError(name)


_app: typer.Typer | None = None


_VERSION_HELP = "Print Tessera's version (the one every ingest run records) and exit."


def _version() -> None:
    from tessera import __version__

    typer.echo(f"tessera {__version__}")
    raise typer.Exit()


def root(
    ctx: typer.Context,
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
    case: Annotated[
        Path | None,
        typer.Option(
            "--case",
            help="The case directory, before the command (its own --case wins; else TESSERA_CASE).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=lambda v: _version() if v else None, help=_VERSION_HELP
        ),
    ] = False,
) -> None:
    """Tessera: triage seized devices for known and new material; hashes and metadata only leave a case."""
    from tessera.logs import configure
    from tessera.store.casedir import set_root_case

    # Where every command looks when its own --case is not given (this invocation only).
    set_root_case(case)
    try:
        configure(verbose, log_file)
    except OSError as exc:
        fail(f"cannot open --log-file {log_file}: {exc.strerror or exc}")
    # Every run leaves its start and end in the log (a listing logs nothing else), named by its
    # command words only: options and arguments may hold paths or a backup's password.
    _run["command"] = " ".join(_command_words(ctx))
    logging.getLogger("tessera.cli").info("tessera %s started", _run["command"])


_run: dict[str, str] = {}


def _command_words(ctx: typer.Context) -> list[str]:
    words = [ctx.invoked_subcommand or ""]
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    # A command group (hub, hashset, case, ...) is followed by its subcommand's name.
    if words[0] in _GROUPS and words[0] in args:
        after = args[args.index(words[0]) + 1 : args.index(words[0]) + 2]
        words += after
    return [w for w in words if w]


def demo_cmd(
    out: str = typer.Option("demo-out", "--out", help="Directory for the synthetic operation and its case."),
) -> None:
    """Synthesize a small operation and run the whole workflow on it."""
    from tessera.cli.demo import run_demo

    run_demo(out)


def main() -> None:
    code: int | str | None = 0
    try:
        _main()
    except SystemExit as exc:
        code = exc.code
        raise
    finally:
        if "command" in _run:
            logging.getLogger("tessera.cli").info(
                "tessera %s ended: exit %s", _run["command"], code or 0, extra={"exit": code or 0}
            )


def _main() -> None:
    from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, ProgrammingError

    try:
        if sys.argv[1:] == ["--version"]:
            _version()  # before the command line is built, which imports every command's module
        rv = build_app(_command_named(sys.argv[1:]))(standalone_mode=False)
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
