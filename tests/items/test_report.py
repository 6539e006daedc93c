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
