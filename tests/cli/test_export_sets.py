"""tessera export vics|icse --hashset: an imported set written again, with what the format cannot carry
said on the terminal; and the error for a set that does not exist."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tessera.cli import app
from tessera.store.db import StoreError
from tessera.synth.hashsets import random_entries, vics_full

runner = CliRunner()


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """The root callback configures the ``tessera`` logger; the next test gets it back as it was."""
    logger = logging.getLogger("tessera")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_export_hashset_again(tmp_path: Path) -> None:
    case = tmp_path / "case"
    assert runner.invoke(app, ["case", "init", str(case), "--name", "Op", "--agency", "XX"]).exit_code == 0
    src = tmp_path / "set.json"
    entries = list(random_entries(4, seed=3))
    src.write_bytes(vics_full(entries, "1.3"))
    r = runner.invoke(app, ["hashset", "import", str(src), "--name", "pv", "--case", str(case)])
    assert r.exit_code == 0, r.output

    r = runner.invoke(
        app, ["export", "vics", "--hashset", "pv", "--out", str(tmp_path / "pv.json"), "--case", str(case)]
    )
    assert r.exit_code == 0, r.output
    assert "wrote 4 media item(s) of hash set 'pv'" in r.output
    media = json.loads((tmp_path / "pv.json").read_text())["value"]
    assert [m["MediaID"] for m in media] == [e["media_id"] for e in entries]

    r = runner.invoke(
        app, ["export", "icse", "--hashset", "pv", "--out", str(tmp_path / "pv.csv"), "--case", str(case)]
    )
    assert r.exit_code == 0, r.output
    assert "wrote 4 row(s)" in r.output
    categorised = sum(e["category"] is not None for e in entries)
    assert f"ICSE has no place for 'category': not written for {categorised} item(s)" in r.output
    assert "ICSE has no place for 'sha256': not written for 4 item(s)" in r.output

    r = runner.invoke(
        app, ["export", "icse", "--hashset", "nope", "--out", str(tmp_path / "x.csv"), "--case", str(case)]
    )
    # tessera's main() turns a StoreError into exit code 2 and one line; in-process it is the exception.
    assert isinstance(r.exception, StoreError) and "no hash set named 'nope'" in str(r.exception)
