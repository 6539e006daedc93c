"""The report's spread section on the hop operation."""

from __future__ import annotations

from pathlib import Path

from tessera.report.build import build_report
from tessera.report.render import write_html
from tessera.store.case import CaseHandle
from tests.items.conftest import OP


def test_report_spread_section(hop_case: CaseHandle, tmp_path: Path) -> None:
    report = build_report(hop_case)
    rows = report["spread"]
    assert len(rows) == len({c.item for c in OP.copies.values()})
    by_first = {r["earliest"]["sha256"]: r for r in rows}
    for c in OP.copies.values():
        if c.parent is not None:
            continue
        truth = OP.first_poster(c.item)
        r = by_first[OP.copies[truth.copy].sha256]
        assert r["earliest"]["account"] == OP.net.people[truth.sender].wa_jid
        assert r["earliest"]["group"] == OP.net.groups[truth.group].title
        spread = OP.spread(c.item)
        assert (r["posts"], r["groups"]) == (len(spread), len({s[0] for s in spread}))
        assert r["forwards"] + r["unexplained"] == r["posts"] - 1
    assert sum(r["app_hash_sightings"] for r in rows) == len(OP.missing)
    out = tmp_path / "report.html"
    write_html(report, out)
    html = out.read_text(encoding="utf-8")
    assert '<h2 id="spread">' in html
    assert OP.net.groups[OP.first_poster("M001").group].title in html.split('<h2 id="spread">')[1]


def test_one_device_report_lists_only_its_items_with_their_whole_spread(hop_case: CaseHandle) -> None:
    whole = {r["item"]: r for r in build_report(hop_case)["spread"]}
    # The seizure that holds the fewest pictures (a capture of one group, or a phone).
    phone = min(OP.seizures, key=lambda z: (len({OP.copies[p.copy].item for p in OP.visible(z)}), z.device))
    report = build_report(hop_case, phone.device)
    rows = report["spread"]
    held = {OP.copies[p.copy].item for p in OP.visible(phone)}
    assert rows is not None and len(rows) == len(held) < len(whole)
    for r in rows:
        # Where else the item went stays in the row; how much of it this phone saw is counted.
        assert {k: v for k, v in r.items() if k != "posts_on_device"} == {
            k: v for k, v in whole[r["item"]].items() if k != "posts_on_device"
        }
        assert r["posts_on_device"] >= 1
    assert sum(r["posts_on_device"] for r in rows) == len(OP.visible(phone))
    assert all(r["posts_on_device"] is None for r in whole.values())
