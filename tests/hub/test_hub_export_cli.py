"""Hub export (VICS 2.0, ICSE CSV) read back by Tessera and by an independent reader; the CLI."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tessera.cli import app as cli
from tessera.hashsets import open_hashset
from tessera.hub import models as hm
from tessera.hub.audit import verify
from tessera.hub.db import HubError
from tessera.hub.export import export_icse, export_vics

from .conftest import Hub, auth, rand_item


def _seed(hub: Hub, api: TestClient) -> list[dict]:
    rng = random.Random(20)
    items = [rand_item(rng) for _ in range(25)]
    items[0] |= {"series": "S-1", "victim_identified": True}
    items[1] |= {"victim_identified": False}
    r = api.post(
        "/v1/contributions", json={"batch_id": "seed-0001", "items": items}, headers=auth(hub.tokens["A"])
    )
    assert r.status_code == 200
    return items


def _independent_vics(path: Path) -> dict[str, dict]:
    """A second VICS 2.0 reader: plain json, nothing shared with tessera.hashsets."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["@odata.context"].endswith("#Media")
    out = {}
    for media in doc["value"]:
        alt = {a["HashName"].lower(): a["HashValue"].lower() for a in media.get("AlternativeHashes", [])}
        out[alt["sha256"]] = {
            "md5": media["MD5"].lower(),
            "sha1": media["SHA1"].lower(),
            "pdq": alt.get("pdq"),
            "category": media["Category"],
            "series": media.get("Series"),
            "victim_identified": media.get("VictimIdentified"),
        }
    return out


def test_vics_and_icse_round_trip(hub: Hub, api: TestClient, tmp_path: Path) -> None:
    items = _seed(hub, api)
    expected = {
        i["sha256"]: {k: i.get(k) for k in ("md5", "sha1", "pdq", "category", "series", "victim_identified")}
        for i in items
    }
    vics = tmp_path / "hub.json"
    with hub.session() as s:
        assert export_vics(s, vics) == 25
    assert _independent_vics(vics) == expected
    with vics.open("rb") as fh:
        reader = open_hashset(fh)
        entries = list(reader)
    assert reader.info.format == "vics" and reader.info.version == "2.0"
    by_key: dict[str, dict] = {}
    for e in entries:
        d = by_key.setdefault(e.media_key or "", {})
        d[e.algorithm] = e.value
        d |= {"category": e.category, "series": e.series, "victim_identified": e.victim_identified}
    got = {
        d["sha256"]: {k: d.get(k) for k in ("md5", "sha1", "pdq", "category", "series", "victim_identified")}
        for d in by_key.values()
    }
    assert got == expected

    icse = tmp_path / "hub.csv"
    with hub.session() as s:
        assert export_icse(s, icse) == 25
    with icse.open("rb") as fh:
        reader = open_hashset(fh)
        rows = list(reader)
    assert reader.info.format == "icse"
    pairs = {(e.algorithm, e.value): (e.series, e.victim_identified) for e in rows}
    for i in items:
        assert pairs[("md5", i["md5"])] == (i["series"], i["victim_identified"])
        assert pairs[("sha1", i["sha1"])] == (i["series"], i["victim_identified"])
    with icse.open(encoding="utf-8", newline="") as fh:
        assert len(list(csv.reader(fh, delimiter=";"))) == 26


def test_cli_operator_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert runner.invoke(cli, ["hub", "init", "--db", db]).exit_code == 0
    r = runner.invoke(cli, ["hub", "agency", "add", "NL", "Netherlands Police", "--db", db])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["hub", "token", "create", "NL", "--scope", "contribute,query", "--db", db])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("tsh_")
    r = runner.invoke(cli, ["hub", "token", "create", "XX", "--scope", "query", "--db", db])
    assert r.exit_code != 0
    assert runner.invoke(cli, ["hub", "token", "revoke", "1", "--db", db]).exit_code == 0
    r = runner.invoke(cli, ["hub", "audit", "verify", "--db", db])
    assert r.exit_code == 0 and "3 entries" in r.output
    out = tmp_path / "x.json"
    assert (
        runner.invoke(cli, ["hub", "export", "--db", db, "--format", "vics", "--out", str(out)]).exit_code
        == 0
    )
    assert json.loads(out.read_text())["value"] == []
    r = runner.invoke(cli, ["hub", "audit", "verify", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert r.exit_code != 0


def test_vics_export_keeps_the_category_profile(hub: Hub, api: TestClient, tmp_path: Path) -> None:
    rng = random.Random(21)
    us = [rand_item(rng, category=2) for _ in range(3)]
    uk = [rand_item(rng, category=2) | {"profile": "uk-caid"} for _ in range(2)]
    plain = [rand_item(rng) | {"category": None} for _ in range(1)]
    r = api.post(
        "/v1/contributions",
        json={"batch_id": "seed-prof-1", "items": us + uk + plain},
        headers=auth(hub.tokens["A"]),
    )
    assert r.status_code == 200
    out = tmp_path / "x.json"
    with hub.session() as s:
        try:
            export_vics(s, out)
        except HubError as exc:
            assert "uk-caid, vics-us" in str(exc) and "--profile" in str(exc)
        else:
            raise AssertionError("a mixed-profile hub exported into one VICS scheme")
        assert not out.exists()
        assert export_vics(s, out, profile="uk-caid") == 3  # its two entries and the uncategorised one
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "/2.0.xml/UK/" in doc["@odata.context"]
    cats = {m["AlternativeHashes"][0]["HashValue"].lower(): m["Category"] for m in doc["value"]}
    assert cats == {**{i["sha256"]: 2 for i in uk}, plain[0]["sha256"]: None}
    with hub.session() as s:
        assert export_vics(s, out, profile="vics-us") == 4
        assert "/2.0.xml/US/" in json.loads(out.read_text())["@odata.context"]
        try:
            export_vics(s, out, profile="uk-caid", version="1.3")
        except HubError as exc:
            assert "no VICS 1.3 category scheme" in str(exc)
        else:
            raise AssertionError("a UK profile written as VICS 1.3 (US only)")


def test_icse_export_has_all_twelve_columns(hub: Hub, api: TestClient, tmp_path: Path) -> None:
    items = _seed(hub, api)
    out = tmp_path / "hub.csv"
    with hub.session() as s:
        export_icse(s, out)
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert list(rows[0]) == [
        "MD5", "SHA1", "PhotoDNA", "Image ID", "Is distributed", "Victim identified",
        "Offender identified", "Series name", "Number of submissions", "File Available", "Media Type",
        "Baseline",
    ]  # fmt: skip
    first = next(r for r in rows if r["MD5"] == items[0]["md5"].upper())
    assert (first["Series name"], first["Victim identified"], first["File Available"]) == ("S-1", "Yes", "No")
    assert all(r["Number of submissions"] == "" for r in rows)  # how many agencies is not told


def test_cli_export_is_audited(hub: Hub, api: TestClient, tmp_path: Path) -> None:
    if not hub.url.startswith("sqlite"):
        pytest.skip("the CLI path is the same on both databases")
    _seed(hub, api)
    runner = CliRunner()
    for fmt in ("vics", "icse"):
        out = tmp_path / f"hub.{fmt}"
        r = runner.invoke(cli, ["hub", "export", "--db", hub.url, "--format", fmt, "--out", str(out)])
        assert r.exit_code == 0, r.output
    with hub.session() as s:
        rows = s.scalars(select(hm.AuditEntry).where(hm.AuditEntry.action == "export")).all()
        got = [json.loads(e.details) for e in rows]
        assert verify(s) > 0
    assert got == [
        {"format": "vics", "profile": "vics-us", "entries": 25},
        {"format": "icse", "entries": 25},
    ]
