"""`tessera hub audit keygen | anchor | verify --receipt` as an operator runs them (real processes).

A hub operator keys the log, anchors its head in a receipt kept elsewhere, and verify then catches a
deleted tail entry and an edit the attacker re-chained without the key, naming the entry.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tessera", "hub", *args], capture_output=True, text=True, env=env
    )


def test_keyed_hub_log_anchored_and_tampering_named(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    key = tmp_path / "hub.key"
    env = dict(os.environ, TESSERA_HUB_AUDIT_KEY=str(key))
    assert hub("init", "--db", db).returncode == 0
    made = hub("audit", "keygen", "--db", db, "--key", str(key))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert hub("audit", "keygen", "--db", db, "--key", str(key)).returncode == 2  # never overwritten
    for code in ("AA", "BB", "CC"):
        assert hub("agency", "add", code, f"Agency {code}", "--db", db, env=env).returncode == 0
    receipt = tmp_path / "receipt.json"
    anchored = hub("audit", "anchor", "--db", db, "--out", str(receipt), env=env)
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr
    ok = hub("audit", "verify", "--db", db, "--receipt", str(receipt), env=env)
    assert ok.returncode == 0 and "1 receipt(s) hold" in ok.stdout, ok.stdout + ok.stderr

    con = sqlite3.connect(tmp_path / "hub.db")
    rows = con.execute("SELECT id, subject FROM hub_audit_log ORDER BY id").fetchall()
    con.execute("DELETE FROM hub_audit_log WHERE id = ?", (rows[-1][0],))  # the tail entry
    con.commit()
    gone = hub("audit", "verify", "--db", db, "--receipt", str(receipt), env=env)
    assert gone.returncode == 1 and "BROKEN" in gone.stdout, gone.stdout
    # An edit of an earlier entry, re-chained by someone without the key, is named without a receipt.
    con.execute("UPDATE hub_audit_log SET subject = 'ZZ' WHERE id = ?", (rows[1][0],))
    con.commit()
    con.close()
    edited = hub("audit", "verify", "--db", db, env=env)
    assert edited.returncode == 1 and "BROKEN" in edited.stdout, edited.stdout
