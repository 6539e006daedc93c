"""Network commands as an investigator runs them, on the synthetic operation ingested through the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.synth.network import make_network
from tessera.synth.seizures import write_seizures

NET = make_network(11)


def tessera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("netcli")
    case = tmp / "case"
    assert tessera("case", "init", str(case), "--name", "Op Net", "--agency", "XX").returncode == 0
    for ev in write_seizures(NET, tmp / "evidence"):
        r = tessera(
            "ingest",
            str(ev.path),
            "--device",
            ev.seizure.device,
            "--kind",
            ev.kind,
            "--workers",
            "0",
            "--case",
            str(case),
        )
        assert r.returncode == 0, r.stderr
    return case


def test_accounts_json_fields(op: Path) -> None:
    r = tessera("accounts", "--format", "json", "--case", str(op))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(
        {"account", "platform", "country", "groups", "devices", "roles"} <= set(x) for x in rows
    )
    by_key = {(x["platform"], x["account"]): x for x in rows}
    for p in NET.people.values():
        if (("whatsapp", p.phone)) in by_key:
            assert by_key[("whatsapp", p.phone)]["country"] == p.country
    producers = [x for x in rows if "producer-candidate" in x["roles"]]
    assert producers and all(x["indicators"]["producer-candidate"]["evidence"] for x in producers)
    es = json.loads(tessera("accounts", "--format", "json", "--country", "ES", "--case", str(op)).stdout)
    assert es and all(x["country"] == "ES" for x in es)


def test_timeline_json(op: Path) -> None:
    item = next(iter(NET.items.values()))
    r = tessera("timeline", "--media", item.sha256, "--format", "json", "--case", str(op))
    posts = json.loads(r.stdout)
    assert posts and posts[0]["first"]
    assert all({"account", "group", "time", "device", "locator"} <= set(p) for p in posts)
    assert all(p["time"].endswith("Z") for p in posts)


def test_groups_and_bridges_csv(op: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(tessera("groups", "--format", "csv", "--case", str(op)).stdout)))
    titles = {r["group"] for r in rows}
    assert {g.title for g in NET.groups.values()} <= titles
    r = tessera("bridges", "--format", "table", "--case", str(op))
    assert r.returncode == 0 and "row(s)" in r.stdout


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json"])
def test_graph_export(op: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"net.{fmt}"
    r = tessera("graph", "--format", fmt, "--out", str(out), "--case", str(op))
    assert r.returncode == 0, r.stderr
    import networkx as nx

    g = nx.read_graphml(out) if fmt == "graphml" else nx.read_gexf(out) if fmt == "gexf" else None
    if g is not None:
        kinds = {d.get("type") for _, d in g.nodes(data=True)}
        assert {"account", "group", "media"} <= kinds
    else:
        data = json.loads(out.read_text())
        assert data["format"] == "tessera-graph" and data["nodes"] and data["links"]


def test_suspects_are_audited_and_referrals_carry_no_bytes(op: Path, tmp_path: Path) -> None:
    owner = NET.people[NET.seizures[0].owner or ""]
    assert (
        tessera(
            "suspect", "add", "S01", "--jurisdiction", "FR", "--user", "analyst1", "--case", str(op)
        ).returncode
        == 0
    )
    r = tessera(
        "suspect",
        "link",
        "S01",
        "--account",
        owner.phone,
        "--device",
        NET.seizures[0].device,
        "--user",
        "analyst1",
        "--case",
        str(op),
    )
    assert r.returncode == 0, r.stderr
    assert (
        tessera("suspect", "status", "S01", "arrested", "--user", "analyst1", "--case", str(op)).returncode
        == 0
    )
    listed = json.loads(tessera("suspect", "list", "--format", "json", "--case", str(op)).stdout)
    assert listed[0]["status"] == "arrested" and owner.phone in listed[0]["accounts"]
    bad = tessera("suspect", "link", "S01", "--account", "+0000", "--user", "analyst1", "--case", str(op))
    assert bad.returncode == 2 and "no account" in bad.stderr

    out = tmp_path / "referrals"
    r = tessera("referrals", "--out", str(out), "--case", str(op))
    assert r.returncode == 0, r.stderr
    countries = {p.name for p in out.iterdir()}
    assert {p.country for p in NET.people.values()} >= countries - {"FR", "XX"}
    assert "FR" in countries  # the suspect's jurisdiction gets the linked account too
    blobs = [it.data for it in NET.items.values()]
    for pkg in out.iterdir():
        names = sorted(f.name for f in pkg.iterdir())
        assert names == ["accounts.csv", "cases.vics.json", "manifest.json", "posts.csv", "summary.md"]
        manifest = json.loads((pkg / "manifest.json").read_text())
        assert manifest["format"] == "tessera-referral" and set(manifest["files"]) == set(names) - {
            "manifest.json"
        }
        for f in pkg.iterdir():
            content = f.read_bytes()
            assert b"\xff\xd8\xff" not in content  # no JPEG anywhere
            assert not any(b[:64] in content for b in blobs)
        cases = json.loads((pkg / "cases.vics.json").read_text())
        assert cases["@odata.context"].endswith("#Cases")


def test_accounts_and_referrals_by_item(op: Path, tmp_path: Path) -> None:
    """--by item groups the media first; first posts are then of items, so an account is a producer
    candidate by item only if it is one by exact copy too (a later recompressed copy is no first post)."""
    exact = json.loads(tessera("accounts", "--format", "json", "--case", str(op)).stdout)
    r = tessera("accounts", "--format", "json", "--by", "item", "--case", str(op))
    assert r.returncode == 0, r.stderr
    producers = {x["account"] for x in json.loads(r.stdout) if "producer-candidate" in x["roles"]}
    assert producers and producers <= {x["account"] for x in exact if "producer-candidate" in x["roles"]}
    r = tessera("referrals", "--out", str(tmp_path / "ref"), "--by", "item", "--case", str(op))
    assert r.returncode == 0, r.stderr
    first = sorted((tmp_path / "ref").iterdir())[0]
    assert "item" in (first / "posts.csv").read_text().splitlines()[0].split(",")
    bad = tessera("accounts", "--by", "colour", "--case", str(op))
    assert bad.returncode == 2 and "--by must be" in bad.stderr
