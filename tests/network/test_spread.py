"""Spread per item on the hop operation: first poster and full spread equal the generator's truth."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import select

from tessera.items import posts as item_posts
from tessera.items.grouping import item_of
from tessera.items.spread import all_graphs, earliest, item_graph
from tessera.network import analysis
from tessera.store.case import CaseHandle
from tessera.store.models_items import Item
from tests.items.conftest import OP, hop_case  # noqa: F401 - the fixture

JID = {k: p.wa_jid for k, p in OP.net.people.items()}
TITLE = {k: g.title for k, g in OP.net.groups.items()}


def _item_ids(case: CaseHandle) -> dict[str, int]:
    """Generator item -> stored item, through the original copy's SHA-256."""
    with case.session() as s:
        out = {}
        for c in OP.copies.values():
            if c.parent is None:
                found = item_of(s, c.sha256)
                assert found is not None
                out[c.item] = found
        return out


def test_first_poster_and_full_spread_of_every_item(hop_case: CaseHandle) -> None:  # noqa: F811
    ids = _item_ids(hop_case)
    assert len(set(ids.values())) == len(ids)  # no two pictures share an item
    with hop_case.session() as s:
        graphs = dict(all_graphs(s))
        firsts = item_posts.first_posts(s)
    assert set(graphs) == set(ids.values())
    for item, item_id in ids.items():
        g = graphs[item_id]
        truth = OP.first_poster(item)
        first = earliest(g)
        assert first is not None
        assert (first["account"], first["group"]) == (JID[truth.sender], TITLE[truth.group])
        assert first["sha256"] == OP.copies[truth.copy].sha256
        assert first["via"] in ("self", "pdq")
        fp = firsts[f"item:{item_id}"]
        assert (fp["account"], fp["group"], fp["first"]) == (JID[truth.sender], TITLE[truth.group], True)
        spread = {(a["group"], a["account"], a["time"], a["sha256"]) for _, a in g.nodes(data=True)}
        want = {(TITLE[gk], JID[who], analysis.iso(t), sha) for gk, who, t, sha in OP.spread(item)}
        assert spread == want, item
        # Forwards run forward in time, and each one's sender was in the group it came from.
        for src, dst, e in g.edges(data=True):
            assert g.nodes[src]["time"] < g.nodes[dst]["time"]
            assert e["basis"] == "member"
        assert g.number_of_edges() == g.number_of_nodes() - 1  # every later post has one source


def test_forward_edges_follow_the_generated_hops(hop_case: CaseHandle) -> None:  # noqa: F811
    """Forwards are inferred (membership, then the nearest copy by PDQ): most are the generator's true
    hop; the rest name another earlier post the sender could also have seen."""
    ids = _item_ids(hop_case)
    by_id = {p.id: p for p in OP.posts}
    agree = total = 0
    with hop_case.session() as s:
        for item, item_id in ids.items():
            g = item_graph(s, item_id)
            node_of = {(a["group"], a["account"], a["time"]): n for n, a in g.nodes(data=True)}
            for p in OP.posts:
                if p.item != item or p.parent is None:
                    continue
                par = by_id[p.parent]
                dst = node_of[(TITLE[p.group], JID[p.sender], analysis.iso(p.time))]
                src = node_of[(TITLE[par.group], JID[par.sender], analysis.iso(par.time))]
                total += 1
                agree += g.has_edge(src, dst)
    assert total and agree / total >= 0.8, (agree, total)  # 30 of 36 on this operation


def test_missing_file_message_reaches_its_item_by_the_app_hash(hop_case: CaseHandle) -> None:  # noqa: F811
    assert OP.missing
    device, post_id = sorted(OP.missing)[0]
    post = next(p for p in OP.posts if p.id == post_id)
    ids = _item_ids(hop_case)
    with hop_case.session() as s:
        rows = item_posts.timeline(s, ids[post.item])
    row = next(r for r in rows if r["device"] == device and r["locator"] == f"msgstore.db#message/{post_id}")
    assert row["link"] == "app-hash"
    assert row["sha256"] == OP.copies[post.copy].sha256
    assert row["file_elsewhere"] and not row["file_elsewhere"].startswith(f"{device}:")
    # Every other sighting on a device that holds its file says so.
    held = [r for r in rows if (r["device"], int(r["locator"].rsplit("/", 1)[1])) not in OP.missing]
    assert held and all(r["link"] == "file" for r in held)


def test_item_spread_counts(hop_case: CaseHandle) -> None:  # noqa: F811
    ids = _item_ids(hop_case)
    with hop_case.session() as s:
        rows = {r["item"]: r for r in item_posts.item_spread(s)}
        exact = {r["sha256"] for r in analysis.media_spread(s)}  # exact-SHA results stay available
    assert exact == {c.sha256 for c in OP.copies.values()}
    for item, item_id in ids.items():
        r = rows[item_id]
        truth = OP.spread(item)
        assert r["copies"] == len({t[3] for t in truth})
        assert r["groups"] == len({t[0] for t in truth})
        assert r["accounts"] == len({t[1] for t in truth})


def tessera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)


def test_cli_json_and_graphml(hop_case: CaseHandle, tmp_path: Path) -> None:  # noqa: F811
    ids = _item_ids(hop_case)
    item = "M001"
    case_dir = str(hop_case.directory)
    r = tessera("spread", "--item", str(ids[item]), "--format", "json", "--case", case_dir)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["format"] == "tessera-spread" and data["item"]["id"] == ids[item]
    truth = OP.first_poster(item)
    assert data["earliest"]["account"] == JID[truth.sender]
    assert {m["sha256"] for m in data["item"]["members"]} == {
        c.sha256 for c in OP.copies.values() if c.item == item
    }
    out = tmp_path / "spread.graphml"
    r = tessera(
        "spread", "--item", str(ids[item]), "--format", "graphml", "--out", str(out), "--case", case_dir
    )
    assert r.returncode == 0, r.stderr
    root = ET.parse(out).getroot()
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) == len(OP.spread(item))
    r = tessera("spread", "--format", "json", "--case", case_dir)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == len({c.item for c in OP.copies.values()})
    r = tessera("spread", "--item", "99999", "--case", case_dir)
    assert r.returncode == 2 and "no item 99999" in r.stderr
    with hop_case.session() as s:
        assert s.scalar(select(Item.id).where(Item.id == ids[item])) == ids[item]


def test_roles_and_referrals_by_item(hop_case: CaseHandle, tmp_path: Path) -> None:  # noqa: F811
    """Per item, only each picture's first poster is a producer candidate; per exact SHA-256 every
    recompressed copy looked new, so every poster was one."""
    from tessera.network.referrals import write_referrals

    first_posters = {JID[OP.first_poster(i).sender] for i in {c.item for c in OP.copies.values()}}
    all_posters = {JID[p.sender] for p in OP.posts}
    with hop_case.session() as s:
        by_item = {a.account for a in analysis.accounts(s, by="item") if "producer-candidate" in a.roles}
        by_sha = {a.account for a in analysis.accounts(s) if "producer-candidate" in a.roles}
        assert by_item == first_posters
        assert by_sha == all_posters and by_item < by_sha
        ids = _item_ids(hop_case)
        line = analysis.timeline(s, OP.copies["M001.0"].sha256, by="item")
        assert len(line) == sum(1 for z in OP.seizures for p in OP.visible(z) if p.item == "M001")
        assert {r["item"] for r in line} == {ids["M001"]}
        packages = write_referrals(s, tmp_path / "ref", "Op", "XX")
    assert packages
    import csv

    rows = [r for p in packages for r in csv.DictReader((p.path / "posts.csv").open(encoding="utf-8"))]
    truth = {c.sha256: ids[c.item] for c in OP.copies.values()}
    assert rows and all(int(r["item"]) == truth[r["sha256"]] for r in rows)
