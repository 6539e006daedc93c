"""--format json and --out - on every family of commands: standard output is JSON (or the file) alone.

The commands run in this process through Typer's runner (the same code as ``tessera``, without a
process start per command), on one real case: a hash set imported, a device ingested, a second one
through ingest-batch. Each test parses what standard output held; progress, notes and logs go to
standard error, and must not break it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from tessera.cli import app
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics

try:  # click before 8.2 mixes standard error into standard output unless told not to
    runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
except TypeError:
    runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def _keep_logging() -> Iterator[None]:
    """The root callback configures the ``tessera`` logger; the next test module gets it back as it was."""
    logger = logging.getLogger("tessera")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def tessera(*args: str) -> Any:
    """Run a command; its standard output parsed as JSON."""
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, (args, r.stdout, r.stderr, r.exception)
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"{args}: standard output is not JSON alone: {r.stdout[:500]!r}") from exc


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[Any]]:
    tmp = tmp_path_factory.mktemp("fmt")
    sc = build_scenario(n_known=2, n_unrelated=1, size=(160, 120))
    tree = make_device_tree(tmp / "D1", 7, n_photos=3, n_chat=2, n_duplicates=0, plant=sc.plant)
    case = tmp / "case"
    assert (
        runner.invoke(app, ["case", "init", str(case), "--name", "Op JSON", "--agency", "XX"]).exit_code == 0
    )
    r = runner.invoke(
        app, ["hashset", "import", str(known_vics(sc, tmp / "known.json")), "--case", str(case)]
    )
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(
        app,
        [
            "ingest",
            str(tree.root),
            "--device",
            "D1",
            "--workers",
            "0",
            "--format",
            "json",
            "--case",
            str(case),
        ],
    )
    assert r.exit_code in (0, 1), r.stderr  # the synthetic tree holds a few corrupt files on purpose
    summary = json.loads(r.stdout)
    second = make_device_tree(tmp / "D2", 8, n_photos=2, n_chat=1, n_duplicates=0)
    manifest = tmp / "seizure.csv"
    manifest.write_text(f"device,kind,suspect,source\nD2,phone,S2,{second.root}\n", encoding="utf-8")
    r = runner.invoke(
        app, ["ingest-batch", str(manifest), "--workers", "0", "--format", "json", "--case", str(case)]
    )
    assert r.exit_code in (0, 1), r.stderr
    batch = json.loads(r.stdout)
    return case, summary, batch


def test_ingest_and_ingest_batch_summaries(worked: tuple[Path, dict[str, Any], list[Any]]) -> None:
    _, summary, batch = worked
    assert summary["device"] == "D1" and summary["files_new"] > 0 and summary["hits"] >= 2
    assert summary["errors"] == len(summary["problems"]) > 0  # each problem named with its locator
    assert {"locator", "error"} == set(summary["problems"][0])
    assert isinstance(summary["messaging"], list) and isinstance(summary["incomplete_sources"], list)
    assert [d["device"] for d in batch] == ["D2"]
    assert batch[0]["suspect"] == "S2" and batch[0]["status"] in ("complete", "errors")
    assert batch[0]["files_new"] > 0


LISTINGS = [
    ["hashset", "list"],
    ["matches"],
    ["sources"],
    ["accounts"],
    ["persons"],
    ["groups"],
    ["bridges"],
    ["cameras"],
    ["spread"],
    ["series", "list"],
    ["suspect", "list"],
    ["user", "list"],
    ["audit", "list"],
    ["timeline", "--device", "D1"],
]


@pytest.mark.parametrize("command", LISTINGS, ids=lambda c: " ".join(c))
def test_every_case_listing_is_json(
    worked: tuple[Path, dict[str, Any], list[Any]], command: list[str]
) -> None:
    case = worked[0]
    rows = tessera(*command, "--format", "json", "--case", str(case))
    assert isinstance(rows, list)
    if command == ["hashset", "list"]:
        assert [r["name"] for r in rows] == ["known"] and rows[0]["by_algorithm"]["md5"] == 2
    if command == ["matches"]:
        assert len(rows) >= 2 and {"device", "locator", "hashset"} <= set(rows[0])
    if command[0] == "timeline":
        assert rows and all(r["device"] == "D1" for r in rows)


def test_case_info_and_plugins(worked: tuple[Path, dict[str, Any], list[Any]]) -> None:
    info = tessera("case", "info", "--format", "json", "--case", str(worked[0]))
    assert info["name"] == "Op JSON" and info["devices"] == 2 and info["matches"] >= 2
    plugins = tessera("plugins", "--format", "json")
    assert {"axis", "name", "distribution", "status"} <= set(plugins[0])


def test_files_to_standard_output(worked: tuple[Path, dict[str, Any], list[Any]]) -> None:
    case = str(worked[0])
    graph = tessera("graph", "--format", "json", "--out", "-", "--case", case)
    assert graph["format"] == "tessera-graph" and graph["version"] == 1
    report = tessera("report", "--format", "json", "--out", "-", "--case", case)
    assert report["format"] == "tessera-report" and report["case"]["name"] == "Op JSON"
    vics = tessera("export", "vics", "--scope", "all", "--out", "-", "--case", case)
    assert vics["@odata.context"].endswith("#Media") and vics["value"]
    jsonld = tessera("export", "case", "--out", "-", "--case", case)
    assert "@context" in jsonld and "@graph" in jsonld
    for args in (["icse", "--scope", "all"], ["dfxml", "--device", "D1"], ["vpdq", "--scope", "all"]):
        r = runner.invoke(app, ["export", *args, "--out", "-", "--case", case])
        assert r.exit_code == 0 and "to standard output" in r.stderr, (args, r.stderr)
        if args[0] == "dfxml":
            assert ElementTree.fromstring(r.stdout).tag.endswith("dfxml")
        if args[0] == "icse":
            assert r.stdout.startswith("MD5;SHA1;PhotoDNA;") and r.stdout.splitlines()[0].count(";") == 11
    assert not Path("-").exists()


def test_hub_listings_and_export_to_standard_output(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert runner.invoke(app, ["hub", "init", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["hub", "agency", "add", "NL", "Agency NL", "--db", db]).exit_code == 0
    made = runner.invoke(app, ["hub", "token", "create", "NL", "--db", db, "--scope", "query"])
    assert made.exit_code == 0
    token = made.stdout.strip()
    agencies = tessera("hub", "agency", "list", "--db", db, "--format", "json")
    assert agencies[0]["code"] == "NL" and agencies[0]["active_tokens"] == 1
    tokens = tessera("hub", "token", "list", "--db", db, "--format", "json")
    assert tokens[0]["agency"] == "NL" and tokens[0]["scopes"] == ["query"]
    assert tokens[0]["created_at"].startswith("20") and token not in json.dumps(tokens)
    exported = tessera("hub", "export", "--db", db, "--out", "-")
    assert exported["@odata.context"].endswith("#Media") and exported["value"] == []  # VICS, no media
    assert not (tmp_path / "-").exists()


def test_a_reader_that_went_away_ends_the_command_quietly(
    worked: tuple[Path, dict[str, Any], list[Any]],
) -> None:
    # ``tessera export ... --out - | head`` printed "cannot write -: Broken pipe" and exited 2; now it
    # ends as click ends a command whose reader went away: quietly, exit 1. The reader here is gone
    # before the first write (a reader leaving part-way may let a write end short without an error).
    cmd = [sys.executable, "-m", "tessera", "export", "case", "--out", "-", "--case", str(worked[0])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Broken pipe" not in err and "Traceback" not in err and "cannot write" not in err, err
