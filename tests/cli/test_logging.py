"""--verbose and --log-file as a user runs them: JSON lines that parse, and no secret at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tessera.hub.auth import add_agency, create_token
from tessera.hub.db import open_hub, sessions
from tessera.logs import configure, redact
from tessera.store.case import init_case
from tessera.synth.trees import make_device_tree
from tests.cli.test_cli import tessera

FIELDS = {"v", "time", "level", "logger", "message"}


def read_log(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    for rec in records:
        assert set(rec) >= FIELDS, rec
        assert rec["time"].endswith("+00:00"), rec  # ISO 8601 in UTC
        assert rec["logger"].startswith("tessera"), rec
    return records


def test_ingest_log_is_json_lines_and_never_holds_the_password(tmp_path: Path) -> None:
    secret = "Backup-Passw0rd-7f3a"
    case, log = tmp_path / "case", tmp_path / "run.jsonl"
    tree = make_device_tree(tmp_path / "D1", 3, n_photos=3, n_chat=1, n_duplicates=0)
    assert tessera("case", "init", str(case), "--name", "c", "--agency", "XX").returncode == 0
    r = tessera(
        "-vv",
        "--log-file",
        str(log),
        "ingest",
        str(tree.root),
        "--device",
        "D1",
        "--workers",
        "0",
        "--password",
        secret,
        "--case",
        str(case),
    )
    assert r.returncode in (0, 1), r.stderr
    records = read_log(log)
    done = [x for x in records if x["message"].startswith("ingest of D1 done")]
    assert len(done) == 1 and done[0]["level"] == "INFO" and done[0]["files_new"] > 0
    assert any(x["level"] == "DEBUG" for x in records)
    assert secret not in log.read_text(encoding="utf-8")
    assert secret not in r.stderr  # -vv prints the same records on standard error
    # Without -v nothing but warnings reaches standard error; the file still gets INFO.
    again = tmp_path / "again.jsonl"
    r = tessera("--log-file", str(again), "matches", "--format", "json", "--case", str(case))
    assert r.returncode == 0 and "INFO" not in r.stderr
    json.loads(r.stdout)  # the log never mixes into the JSON on standard output
    # A listing logs nothing of its own, yet the file records the run: its command words and exit.
    assert [(x["message"], x.get("exit")) for x in read_log(again)] == [
        ("tessera matches started", None),
        ("tessera matches ended: exit 0", 0),
    ]
    # Grouped commands are named with their subcommand; a failed run says its exit code; the
    # ingest's password (an argument) never reaches the start line.
    r = tessera("--log-file", str(again), "hashset", "list", "--case", str(tmp_path / "nowhere"))
    assert r.returncode == 2
    assert [x["message"] for x in read_log(again)][-2:] == [
        "tessera hashset list started",
        "tessera hashset list ended: exit 2",
    ]
    assert [x["message"] for x in read_log(log)][0] == "tessera ingest started"


def test_a_log_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    r = tessera("--log-file", str(tmp_path), "plugins")  # a directory
    assert r.returncode == 2 and r.stderr.startswith("tessera: error: cannot open --log-file"), r.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hub_server_and_client_logs_never_hold_the_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = open_hub(db, create=True)
    with sessions(engine)() as s:
        add_agency(s, "NL", "Agency NL")
        token = create_token(s, "NL", ["contribute", "query"])[1]
        s.commit()
    engine.dispose()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    case = tmp_path / "case"
    init_case(case, "c", "NL", None).close()

    port = _free_port()
    server_log, client_log = tmp_path / "server.jsonl", tmp_path / "client.jsonl"
    cmd = [sys.executable, "-m", "tessera", "-vv", "--log-file", str(server_log)]
    cmd += ["hub", "serve", "--db", db, "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "hub did not start"
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        r = tessera(
            "-vv", "--log-file", str(client_log), "hub", "pull", "--hub", url,
            "--token-file", str(token_file), "--case", str(case),
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert token not in r.stderr
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    client, served = read_log(client_log), read_log(server_log)
    assert any(x["message"].startswith("pull into hub:127.0.0.1") for x in client)
    assert any(x["level"] == "DEBUG" and "/v1/changes" in x["message"] for x in served)
    for text in (
        client_log.read_text(encoding="utf-8"),
        server_log.read_text(encoding="utf-8"),
        err.decode(),
    ):
        assert token not in text


def test_a_registered_secret_is_masked_should_it_reach_a_message(tmp_path: Path) -> None:
    logger = logging.getLogger("tessera")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    log_file = tmp_path / "masked.jsonl"
    try:
        configure(2, log_file, stream=io.StringIO())
        redact("hub-token-6b1f0c")
        logging.getLogger("tessera.test").debug(
            "careless %s", "Bearer hub-token-6b1f0c", extra={"header": "hub-token-6b1f0c"}
        )
    finally:
        for h in logger.handlers:
            h.close()
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
    (record,) = read_log(log_file)
    assert record["message"] == "careless Bearer [redacted]" and record["header"] == "[redacted]"
    assert record["level"] == "DEBUG" and record["logger"] == "tessera.test"


def test_case_given_before_the_command(tmp_path: Path) -> None:
    case = tmp_path / "case"
    assert tessera("case", "init", str(case), "--name", "c", "--agency", "XX").returncode == 0
    r = tessera("--case", str(case), "hashset", "list", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []
    # The command's own --case wins over the one before it.
    r = tessera(
        "--case", str(tmp_path / "nowhere"), "hashset", "list", "--format", "json", "--case", str(case)
    )
    assert r.returncode == 0, r.stderr
    r = tessera("--case", str(tmp_path / "nowhere"), "hashset", "list")
    assert r.returncode == 2 and "no case at" in r.stderr


def test_the_root_case_is_for_its_own_invocation_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The root --case was written to $TESSERA_CASE: a program running several commands in one process
    # had a later command, given no case, open the earlier one's.
    from typer.testing import CliRunner

    from tessera.cli import app

    monkeypatch.delenv("TESSERA_CASE", raising=False)
    case = tmp_path / "case"
    runner = CliRunner()
    assert runner.invoke(app, ["case", "init", str(case), "--name", "c", "--agency", "XX"]).exit_code == 0
    first = runner.invoke(app, ["--case", str(case), "hashset", "list", "--format", "json"])
    assert first.exit_code == 0, first.output
    assert "TESSERA_CASE" not in os.environ
    later = runner.invoke(app, ["hashset", "list", "--format", "json"])
    # (Through the runner the error comes back as the exception that the real entry point prints.)
    assert later.exit_code != 0 and "no case given" in f"{later.output} {later.exception}"
