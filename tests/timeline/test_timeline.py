"""The case timeline and capture places on a generated operation, on SQLite and PostgreSQL: events equal
what the generator wrote, filters keep exactly what they name, keyset pages add up to the stream, and the
CSV, JSON, GeoJSON and KML exports parse back to the same facts."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from tessera.store.case import CaseHandle
from tessera.timeline import events as E
from tessera.timeline import places as P
from tests.timeline.helpers import NET, SEIZED, Truth, build


@pytest.fixture
def op(case: CaseHandle, tmp_path: Path) -> tuple[CaseHandle, Truth]:
    return case, build(case, tmp_path)


def _all(case: CaseHandle, f: E.Filters | None = None, counters: E.Counters | None = None) -> list[dict]:
    with case.session() as s:
        return [e for _, e in E.stream(s, f, counters=counters)]


def _key(t: str) -> str:
    return t.replace("+00:00", "Z")


def test_events_equal_what_the_operation_wrote(op: tuple[CaseHandle, Truth]) -> None:
    case, truth = op
    counters = E.Counters()
    evs = _all(case, counters=counters)
    # Posts and text messages: per device, exactly the posts its source holds (system lines aside).
    for seizure in NET.seizures:
        want = Counter(
            (_key(p.time.isoformat()), NET.items[p.item].sha256 if p.item else None)
            for p in NET.visible(seizure)
        )
        got = Counter(
            (e["time"], e["sha256"])
            for e in evs
            if e["device"] == seizure.device
            and (e["kind"] == "post" or (e["kind"] == "message" and not e["detail"].startswith("system")))
        )
        assert got == want, seizure.device
    msgs = [e for e in evs if e["source"] == "message"]
    assert all(e["locator"] and e["ref"].startswith("message:") for e in msgs)
    # Captures: one per file of a picture with a readable EXIF time, raw value kept; the blank one counted.
    want_caps = {
        (dev, loc, p.exif.capture_time)
        for p in truth.pictures.values()
        if p.exif.capture_time and not p.exif.capture_time.startswith("0000")
        for dev, (loc, _m, _c) in p.files.items()
    }
    caps = [e for e in evs if e["kind"] == "capture"]
    assert {(e["device"], e["locator"], e["raw_time"]) for e in caps} == want_caps and len(caps) == len(
        want_caps
    )
    assert all(e["time_basis"] == "camera-local" for e in caps)
    assert counters.unreadable_capture_times == truth.unreadable
    # File times of the camera files: exactly the times written.
    for kind, pos in (("file-modified", 1), ("file-created", 2)):
        got_t = {(e["device"], e["locator"]): float(e["raw_time"]) for e in evs if e["kind"] == kind}
        for p in truth.pictures.values():
            for dev, info in p.files.items():
                assert got_t[(dev, info[0])] == info[pos], (kind, dev, info)
    seizures = [e for e in evs if e["kind"] == "seizure"]
    assert [(e["device"], e["raw_time"]) for e in seizures] == [("P-01", SEIZED)]
    assert [e["ref"] for e in evs if e["kind"] == "suspect"] == ["audit:1"]
    # One order for everything: normalised time (camera-local read as UTC), then kind rank.
    keys = [(E.parse_time(e["time"]), E.KINDS.index(e["kind"]) if e["kind"] != "message" else 5) for e in evs]
    assert keys == sorted(keys)


def test_filters_keep_exactly_what_they_name(op: tuple[CaseHandle, Truth]) -> None:
    case, truth = op
    every = _all(case)
    by_dev = _all(case, E.Filters(device="CAM-2"))
    # The device's own events, and the status of the suspect it was seized from (CAM-2: S01).
    assert [e for e in by_dev if e["kind"] != "suspect"] == [e for e in every if e["device"] == "CAM-2"]
    assert len(by_dev) == 4 and by_dev[-1]["detail"].startswith("suspect.add S01")
    acc = _all(case, E.Filters(account=truth.suspect_account))
    owner = NET.people[NET.seizures[0].owner or ""].phone
    assert {e["kind"] for e in acc} == {"post", "message", "seizure", "suspect"}
    assert all(e["account"] == owner for e in acc if e["source"] == "message")
    assert len([e for e in acc if e["source"] == "message"]) == len(
        [e for e in every if e["account"] == owner]
    )
    with case.session() as s:
        from sqlalchemy import select

        from tessera.store import models as m

        gid, title = s.execute(select(m.Chat.id, m.Chat.title).where(m.Chat.title.is_not(None))).first()
    grp = _all(case, E.Filters(group=gid))
    assert grp and all(e["group"] == title and e["source"] == "message" for e in grp)
    assert len(grp) == len([e for e in every if e["group"] == title])
    from tessera.timeline.resolve import item_sha256s

    with case.session() as s:  # a SHA-256 stands for its item where it has one, else for itself
        assert item_sha256s(s, truth.pictures["cam0"].sha256.upper()) == truth.item_members
        assert item_sha256s(s, str(truth.item_id)) == truth.item_members
        assert item_sha256s(s, truth.pictures["cam2"].sha256) == {truth.pictures["cam2"].sha256}
    item = _all(case, E.Filters(sha256s=truth.item_members))
    assert item and {e["sha256"] for e in item} == truth.item_members
    assert {e["item"] for e in item} == {truth.item_id}
    since, until = E.parse_time("2024-03-03"), E.parse_time("2024-03-05T23:59:59")
    ranged = _all(case, E.Filters(since=since, until=until))
    inside = [e for e in every if since <= E.parse_time(e["time"]) <= until]
    assert ranged == inside and ranged
    assert E.parse_until("2024-03-05") == until.replace(microsecond=999999)  # a bare date: the whole day
    only = _all(case, E.Filters(kinds=frozenset({"capture"})))
    assert only == [e for e in every if e["kind"] == "capture"]


def test_keyset_pages_add_up_to_the_stream(op: tuple[CaseHandle, Truth]) -> None:
    case, _ = op
    every = _all(case)
    seen: list[dict] = []
    after = None
    with case.session() as s:
        while True:
            rows, nxt = E.page(s, None, after, limit=7)
            seen += rows
            if nxt is None:
                break
            after = E.Cursor.decode(nxt.encode())
            assert after == nxt
    assert seen == every
    # The same with a batch smaller than the ties of one timestamp (many messages share a minute).
    with case.session() as s:
        assert [e for _, e in E.stream(s, batch=3)] == every


def tessera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tessera", *args], capture_output=True, text=True, check=False
    )


def test_cli_csv_json_geojson_kml(op: tuple[CaseHandle, Truth], tmp_path: Path) -> None:
    case, truth = op
    every = _all(case)
    d = str(case.directory)
    r = tessera("timeline", "--format", "csv", "--out", str(tmp_path / "t.csv"), "--case", d)
    assert r.returncode == 0, r.stderr
    assert f"{len(every):,} event(s)" in r.stderr and "1 EXIF capture time" in r.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text(encoding="utf-8"))))
    assert [r["ref"] for r in rows] == [e["ref"] for e in every]
    assert [r["time"] for r in rows] == [e["time"] for e in every]
    r = tessera(
        "timeline",
        "--item",
        str(truth.item_id),
        "--kind",
        "capture",
        "--format",
        "json",
        "--out",
        "-",
        "--case",
        d,
    )
    got = json.loads(r.stdout)
    assert len(got) == 3 and {g["sha256"] for g in got} == truth.item_members  # cam0 twice, cam1 once
    r = tessera("timeline", "--account", "nobody", "--format", "json", "--case", d)
    assert r.returncode == 2 and "no account" in r.stderr
    # Places.
    r = tessera("places", "--format", "geojson", "--out", str(tmp_path / "p.geojson"), "--case", d)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "p.geojson").read_text(encoding="utf-8"))
    located = {p.sha256: p for p in truth.pictures.values() if p.exif.gps_lat is not None}
    feats = {f["properties"]["sha256"]: f for f in doc["features"]}
    assert set(feats) == set(located)
    for sha, p in located.items():
        lon, lat = feats[sha]["geometry"]["coordinates"]
        assert abs(lat - p.exif.gps_lat) < 1e-6 and abs(lon - p.exif.gps_lon) < 1e-6
        assert {(f["device"], f["locator"]) for f in feats[sha]["properties"]["files"]} == {
            (dev, info[0]) for dev, info in p.files.items()
        }
    r = tessera("places", "--format", "kml", "--out", str(tmp_path / "p.kml"), "--case", d)
    assert r.returncode == 0, r.stderr
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    marks = ET.parse(tmp_path / "p.kml").getroot().findall(".//k:Placemark", ns)
    assert len(marks) == len(located)
    for pm in marks:
        sha = pm.find("k:ExtendedData/k:Data[@name='sha256']/k:value", ns).text
        lon, lat = (float(x) for x in pm.find("k:Point/k:coordinates", ns).text.split(","))
        assert abs(lat - located[sha].exif.gps_lat) < 1e-6 and abs(lon - located[sha].exif.gps_lon) < 1e-6
        assert "CAM-1 /DCIM/" in (pm.find("k:description", ns).text or "")
    with case.session() as s:
        pts, truncated = P.place_points(s)
        assert not truncated and sum(p["pictures"] for p in pts) == len(located)
        lon, lat = feats[truth.pictures["cam0"].sha256]["geometry"]["coordinates"]
        at = P.pictures_at(s, lat, lon)
        assert [a["sha256"] for a in at] == [truth.pictures["cam0"].sha256]
        assert {f["device"] for f in at[0]["files"]} == {"CAM-1", "CAM-2"}
