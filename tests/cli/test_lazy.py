"""The command line imports only the module of the command it runs (start-up time, issue 16), and the
full command line is what help, unknown commands and ``from tessera.cli import app`` get."""

from __future__ import annotations

import json
import subprocess
import sys

from tessera.cli import _ENTRIES, _command_named


def test_command_named_skips_the_root_options() -> None:
    assert _command_named(["ingest", "--case", "x", "src"]) == "ingest"
    assert _command_named(["-vv", "--log-file", "l.jsonl", "hub", "serve"]) == "hub"
    assert _command_named(["--verbose", "--log-file=l.jsonl", "case", "init"]) == "case"
    # The root's own --case (added after the lazy command line) took every module in again.
    assert _command_named(["--case", "/cases/op", "ingest", "src"]) == "ingest"
    assert _command_named(["--case=/cases/op", "-v", "report"]) == "report"
    assert _command_named(["--help"]) is None
    assert _command_named(["bogus"]) is None
    assert _command_named([]) is None
    assert _command_named(["-x", "ingest"]) is None  # an option the root does not know: build everything


def test_running_one_command_imports_only_its_module() -> None:
    code = (
        "import json, sys\n"
        "from tessera.cli import build_app\n"
        "build_app('ingest')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tessera.cli.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert "tessera.cli.ingest" in loaded
    for other in ("hub", "audit", "network", "report", "hashset"):
        assert f"tessera.cli.{other}" not in loaded, loaded


def test_full_app_has_every_command() -> None:
    from tessera.cli import app

    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == set(_ENTRIES) | {"demo"}
    run = subprocess.run([sys.executable, "-m", "tessera", "bogus"], capture_output=True, text=True)
    assert run.returncode == 2 and "No such command" in run.stderr


def test_version_is_printed_without_building_the_command_line() -> None:
    import tessera

    code = (
        "import json, sys\n"
        "sys.argv = ['tessera', '--version']\n"
        "from tessera.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print(json.dumps([exc.code, sorted(m for m in sys.modules if m.startswith('tessera.cli.'))]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, last = run.stdout.splitlines()[0], run.stdout.splitlines()[-1]
    assert first == f"tessera {tessera.__version__}"
    code_, loaded = json.loads(last)
    assert code_ == 0
    assert not {f"tessera.cli.{name}" for name in ("ingest", "hub", "report", "review")} & set(loaded), loaded
    # After root options, or with a command, it is the root's eager option: same line, exit 0.
    for argv in (["-v", "--version"], ["--version", "ingest"]):
        run = subprocess.run([sys.executable, "-m", "tessera", *argv], capture_output=True, text=True)
        assert (run.returncode, run.stdout.strip()) == (0, f"tessera {tessera.__version__}"), argv
