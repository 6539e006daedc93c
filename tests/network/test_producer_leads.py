"""Producer leads (issue 14) on a generated case: camera links, capture places and "taken on this phone"
flags equal the generator's ground truth (SQLite and PostgreSQL), raw EXIF is kept, and pictures with a
make and model but no serial are never linked.

The case (``tessera.synth.cameras``): three phones written as UFDRs (an iPhone and an Android phone
whose extractions state their model, one whose extraction states none) and an SD card; invented cameras
with a body serial, a DNG camera serial and only a lens serial; phones' own pictures in DCIM, some sent
in a WhatsApp chat as the same bytes, one only as a re-encoded copy (linked once items are grouped).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.items.grouping import update_items
from tessera.network.cameras import producer_leads
from tessera.report.build import build_report
from tessera.report.render import write_html
from tessera.store.case import CaseHandle
from tessera.store.models_producer import MediaExif
from tessera.synth.cameras import Generated, generate


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("cameras"))


def _ingest(case: CaseHandle, gen: Generated) -> None:
    for dev, path in gen.devices.items():
        kind = "storage" if dev.startswith("SD") else "phone"
        ingest(case, path, IngestOptions(dev, kind=kind, workers=0))


def _flags(leads: Any) -> dict[tuple[str, str], str]:
    return {(t["device"], t["sha256"]): t["flag"] for t in leads.taken_here}


def test_producer_leads_equal_ground_truth(case: CaseHandle, gen: Generated) -> None:
    truth = gen.truth
    _ingest(case, gen)
    with case.session() as s:
        leads = producer_leads(s)

    # Cameras: one per invented camera, with exactly its pictures and the devices holding them.
    found = {(c["serial"], c["serial_kind"]): (set(c["pictures"]), set(c["devices"])) for c in leads.cameras}
    expected = {(serial, kind): (pics, devs) for serial, kind, pics, devs in truth.cameras.values()}
    assert found == expected
    assert len(truth.cameras) == 3 and all(len(devs) >= 2 for _, _, _, devs in truth.cameras.values())
    for cam in leads.cameras:  # every picture of a camera is named with the files behind it
        assert {f["sha256"] for f in cam["files"]} == set(cam["pictures"])
        assert {f["device"] for f in cam["files"]} == set(cam["devices"])

    # Make and model without a serial (phones, a body without one, a placeholder "0000000000"): never linked.
    linked = {sha for c in leads.cameras for sha in c["pictures"]}
    assert {u["sha256"] for u in leads.unlinked} == truth.unlinked
    assert not truth.unlinked & linked
    nimbus_no_serial = [sha for sha in truth.unlinked if truth.shots[sha].model == "NX-7"]
    assert len(nimbus_no_serial) == 2  # same make/model as a linked camera, still not linked

    # Capture places: every picture with GPS, at the written place and altitude, with its files.
    places = {p["sha256"]: p for p in leads.places}
    assert set(places) == set(truth.places)
    for sha, (lat, lon, alt) in truth.places.items():
        p = places[sha]
        assert p["lat"] == pytest.approx(lat, abs=1e-6) and p["lon"] == pytest.approx(lon, abs=1e-6)
        assert p["alt"] == pytest.approx(alt)
        assert p["files"] and p["raw"]["gps:0x0002"]
        shot = truth.shots[sha]
        assert shot.gps_time is not None
        assert p["gps_time"] == shot.gps_time.strftime("%Y-%m-%dT%H:%M:%SZ")

    # Taken on this phone: before items are grouped, the re-encoded post is not yet linked.
    before = dict(truth.taken_here)
    for key in truth.via_item:
        before[key] = "taken here"
    assert _flags(leads) == before
    for t in leads.taken_here:
        posted = truth.posted_in.get((t["device"], t["sha256"]))
        if posted is None:
            assert all(m["link"] != "same file" for m in t["messages"])
            continue
        same = [m for m in t["messages"] if m["link"] == "same file"]
        assert len(same) == 1 and posted.split("@")[0] in same[0]["chat"]
        assert same[0]["device"] == t["device"] and same[0]["locator"]
        assert same[0]["time"] > (t["captured_utc"] or "")
    bases = {t["device"]: t["basis"] for t in leads.taken_here}
    assert "device fact model 'iPhone 13'" in bases["PH-IOS"]
    assert "'Galaxy S21 5G (SM-G991B)'" in bases["PH-AND"]
    assert "most common camera in the camera folder (3 of 3" in bases["PH-NOMODEL"]

    # Once items are grouped, the re-encoded copy joins the picture's item: "taken here, then posted".
    with case.session() as s:
        update_items(s)
        s.commit()
    with case.session() as s:
        leads = producer_leads(s)
    assert _flags(leads) == truth.taken_here
    for (dev, sha), copy in truth.via_item.items():
        flag = next(t for t in leads.taken_here if (t["device"], t["sha256"]) == (dev, sha))
        via = [m for m in flag["messages"] if m["media_sha256"] == copy]
        assert len(via) == 1 and via[0]["link"].startswith("same item #")


def test_raw_exif_kept_in_the_store(case: CaseHandle, gen: Generated) -> None:
    _ingest(case, gen)
    with case.session() as s:
        rows = {r.sha256: r for r in s.scalars(select(MediaExif))}
    for sha, shot in gen.truth.shots.items():
        row = rows[sha]
        assert row.raw is not None
        assert row.raw.get("ifd0:0x010F") == shot.make and row.raw.get("ifd0:0x0110") == shot.model
        assert row.raw.get("exif:0xA431") == shot.body_serial
        assert row.camera_serial == shot.camera_serial and row.raw.get("ifd0:0xC62F") == shot.camera_serial
        assert (row.lens_make, row.lens_model, row.lens_serial) == (
            shot.lens_make,
            shot.lens_model,
            shot.lens_serial,
        )
        assert row.raw.get("exif:0x9003") == shot.time
        assert row.offset_time_original == shot.offset
        if shot.gps is not None:
            assert row.gps_alt == pytest.approx(shot.gps[2])
            assert row.raw["gps:0x0005"] == ("01" if shot.gps[2] < 0 else "00")


def _cli(case: CaseHandle, *args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "tessera", *args, "--case", str(case.directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_cli_and_report(sqlite_case: CaseHandle, gen: Generated, tmp_path: Path) -> None:
    _ingest(sqlite_case, gen)
    cams = json.loads(_cli(sqlite_case, "cameras", "--format", "json"))
    assert {c["serial"] for c in cams} == {serial for serial, _, _, _ in gen.truth.cameras.values()}
    rows = list(csv.DictReader(io.StringIO(_cli(sqlite_case, "cameras", "--format", "csv"))))
    assert len(rows) == 3 and all("SD-01:/DCIM/100NIMBU/" in r["locators"] for r in rows)
    places = json.loads(_cli(sqlite_case, "cameras", "--show", "places", "--format", "json"))
    assert {p["sha256"] for p in places} == set(gen.truth.places)
    taken = json.loads(_cli(sqlite_case, "cameras", "--show", "taken-here", "--format", "json"))
    assert sum(t["flag"] == "taken here, then posted" for t in taken) == len(gen.truth.posted_in)
    unlinked = json.loads(_cli(sqlite_case, "cameras", "--show", "unlinked", "--format", "json"))
    assert {u["sha256"] for u in unlinked} == gen.truth.unlinked

    report = build_report(sqlite_case)
    leads = report["producer_leads"]
    assert len(leads["cameras"]) == 3
    write_html(report, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text("utf-8")
    assert "Producer leads" in html and "NB7-004127" in html and "taken here, then posted" in html


def test_migration_0012_matches_the_model(case: CaseHandle) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tessera.store.models import Base

    with case.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "'media_exif'" in repr(d) or "<media_exif>" in repr(d)] == []


def test_one_device_report_scopes_producer_leads(sqlite_case: CaseHandle, gen: Generated) -> None:
    _ingest(sqlite_case, gen)
    whole = build_report(sqlite_case)["producer_leads"]
    devices = sorted({d for c in whole["cameras"] for d in c["devices"]})
    assert len(devices) >= 2
    for dev in devices:
        leads = build_report(sqlite_case, dev)["producer_leads"]
        assert leads["scope"] == {"device": dev}
        assert [c["id"] for c in leads["cameras"]] == [
            c["id"] for c in whole["cameras"] if dev in c["devices"]
        ]
        assert all(t["device"] == dev for t in leads["taken_here"])
        assert {p["sha256"] for p in leads["places"]} == {
            p["sha256"] for p in whole["places"] if any(f["device"] == dev for f in p["files"])
        }
    assert {
        t["sha256"]
        for dev in devices
        for t in (build_report(sqlite_case, dev)["producer_leads"] or {}).get("taken_here", [])
    } >= {t["sha256"] for t in whole["taken_here"]}
