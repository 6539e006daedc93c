"""Full-file-system extractions: the real path lists and Cellebrite fragments of
``corpus/phones`` read in place against their ``.expected.json``, and synthetic Android FFS zips and
tars, in every layout, ingested with each message linked to its media file."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tessera.evidence.devicepath import canonical, device_path, locate, package_root
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging.apps import identify, recognise
from tessera.messaging.inventory import inventory
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.ffs import write_android_ffs
from tessera.synth.network import Network, make_network

PHONES = Path("/work/shared/corpus/phones")
MUSEUM = PHONES / "android_ffs/dfir_artifact_museum"
IOS_LIST = PHONES / "ios_ffs/filelists/josh-hickman-ios15.csv.zip"
needs_corpus = pytest.mark.skipif(not PHONES.is_dir(), reason="phone corpus not present")


def _expected(path: Path) -> dict[str, Any]:
    return {k: v["value"] for k, v in json.loads(path.read_text())["expected"].items()}


def _android_paths(txt: Path) -> list[str]:
    out = []
    for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(".\\"):
            out.append(line[1:].replace("\\", "/").removesuffix(" is a SQLite file!"))
    return out


def _app(path: str) -> str | None:
    found = identify(path)
    return found[0] if found else None


@needs_corpus
@pytest.mark.parametrize("name", ["Android9SQLiteDBs", "Android10SQLiteDBsCellebrite", "Android11SQLiteDBs"])
def test_android_path_lists(name: str) -> None:
    txt = MUSEUM / f"{name}.txt"
    exp = _expected(txt.with_name(txt.name + ".expected.json"))
    paths = _android_paths(txt)
    assert len(paths) == exp["db_paths"]
    styles = Counter(pr[1] for p in paths if (pr := package_root(p)))
    for style, n in exp["package_root_styles"].items():
        assert styles[style] == n, style
    # What the ground truth leaves out of "package roots": shared storage's Android/data and the
    # mirror's device-encrypted folders; nothing else is extra.
    extra = {s for s in styles if s not in exp["package_root_styles"]}
    assert all(
        s.endswith("media/0/Android/data") or s.startswith("sbin/.magisk/mirror/data/user_de") for s in extra
    )

    def rel(p: str) -> str:
        return p.lstrip("/")

    def of(app: str, base: str | None = None) -> list[str]:
        return sorted(rel(p) for p in paths if _app(p) == app and (base is None or p.endswith("/" + base)))

    assert of("whatsapp-android-data", "msgstore.db") == sorted(exp["whatsapp_msgstore"])
    assert of("whatsapp-android-data", "wa.db") == sorted(exp["whatsapp_wa_db"])
    assert of("whatsapp-business-android-data") == sorted(exp["whatsapp_business"])
    assert of("telegram-android-data", "cache4.db") == sorted(exp["telegram_cache4"])
    assert of("signal-android-data") == sorted(exp["signal_paths"])
    assert (
        not any(p.endswith("securesms/databases/signal.db") for p in paths)
        is not exp["signal_db_listed_as_sqlite"]
    )
    # Every copy of WhatsApp's database is one file at one device path (the mirror, /data/user/0).
    stores = {canonical(device_path(p) or "") for p in exp["whatsapp_msgstore"]}
    assert stores == {"/data/data/com.whatsapp/databases/msgstore.db"}
    # The apps found: by their folders, whether or not a message store is among the SQLite files.
    found = {a for p in paths if (a := _app(p))}
    assert "whatsapp-android-data" in found and "telegram-android-data" in found
    assert ("signal-android-data" in found) is bool(exp["signal_paths"])


@needs_corpus
def test_ios_path_list_streamed() -> None:
    """474,145 paths of a whole iPhone, streamed from the zip as stored: every one has a device path,
    and WhatsApp, Telegram and Signal are recognised where the ground truth puts them."""
    exp = _expected(IOS_LIST.with_name(IOS_LIST.name + ".expected.json"))
    n = 0
    by_app: dict[str, list[str]] = {}
    by_file: dict[str, list[str]] = {}
    no_path = 0
    fs2_ok = True
    with zipfile.ZipFile(IOS_LIST) as zf, zf.open(exp["csv_member"]) as raw:
        rows = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        assert next(rows) == exp["header"]
        for row in rows:
            n += 1
            path = row[0]
            loc = "/" + path
            dp = device_path(loc)
            tool_file = not path.startswith(("filesystem1/", "filesystem2/"))
            if (dp is None) is not tool_file:  # the tool's own files (metadata1/, extra/) are no device's
                no_path += 1
            elif path.startswith("filesystem2/") and not dp.startswith("/private/var/"):
                fs2_ok = False
            if (app := identify(loc)) is not None:
                by_app.setdefault(app[0], []).append(path)
            if (known := recognise(loc)) is not None:
                by_file.setdefault(known[0], []).append(path)
    assert n == exp["paths"]
    assert no_path == 0 and fs2_ok
    assert by_file["telegram-ios"] == exp["telegram_ios_postbox_dbs"]
    assert by_file["signal-ios"] == exp["signal_ios_grdb"]
    assert len(by_app["signal-ios-data"]) == exp["signal_ios_markers"]
    assert set(exp["signal_ios_group_plist"]) <= set(by_app["signal-ios-data"])
    assert len(by_app.get("whatsapp-business-ios-data", [])) == exp["whatsapp_business_ios_markers"]
    for group in exp["whatsapp_ios_app_groups"]:
        assert (
            f"{group}/Library/Preferences/group.net.whatsapp.WhatsApp.shared.plist"
            in by_app["whatsapp-ios-data"]
        )
    assert "telegram-ios-data" in by_app  # ph.telegra.Telegraph's own folders


def _zip_members(case: CaseHandle, device: str) -> dict[str, tuple[str | None, int | None]]:
    with case.session() as s:
        rows = s.execute(select(m.File.locator, m.File.sha256, m.File.size).where(m.File.device_id == device))
        return {loc: (sha, size) for loc, sha, size in rows}


@needs_corpus
@pytest.mark.parametrize("folder", ["cellebrite_josh_ios15", "cellebrite_josh_ios17"])
def test_cellebrite_ffs_zips_ingested(case: CaseHandle, folder: str) -> None:
    src = PHONES / "ios_ffs" / folder
    res = ingest(case, src, IngestOptions("IOS", kind="phone", workers=0))
    stored = _zip_members(case, "IOS")
    for zpath in sorted(src.glob("*.zip")):
        exp = _expected(zpath.with_name(zpath.name + ".expected.json"))
        assert len(exp["members"]) == exp["member_count"]
        for mem in exp["members"]:
            loc = f"/{zpath.name}!/{mem['name']}"
            assert loc in stored, loc
            sha, size = stored[loc]
            assert size == mem["size"]
            if mem["size"]:
                assert sha == mem["sha256"]
            assert device_path(loc) == mem["device_path"]
            got = locate(loc)
            assert got is not None and got.root == f"/{zpath.name}!"
    with case.session() as s:
        apps = {r["app"]: r for r in inventory(s, "IOS")}
    if folder == "cellebrite_josh_ios17":
        exp = _expected(next(src.glob("*.expected.json")))
        (db,) = exp["sqlite_summary"].values()
        assert db["table_rows"]["app_updates"] == 52
        # The App Store's records name the apps; no data of theirs is in this fragment.
        for title in ("WhatsApp for iOS", "Signal for iOS", "Telegram for iOS"):
            assert apps[title]["status"] == "not parsed", apps
            assert "installed (App Store record in storeSystem.db)" in apps[title]["reason"]
        bundles = {r["locator"].rsplit("/", 1)[-1] for r in apps.values()}
        assert set(db["app_updates_bundle_ids_matching_whatsapp_telegram_signal"]) <= bundles
        assert res.errors == 0
    else:
        # WhatsApp's ChatStorage is read; its call log beside it is named as parsed by whatsapp-ios-calls.
        assert apps["WhatsApp for iOS"]["status"] in ("parsed", "partial"), (apps, res.messaging)


def _net() -> tuple[Network, Any]:
    net = make_network(5)
    return net, next(s for s in net.seizures if s.format == "msgstore-current")


@pytest.mark.parametrize(
    ("layout", "fmt", "decoy", "absolute"),
    [
        ("data", "zip", False, False),
        ("user0", "zip", False, False),
        ("dump", "zip", True, False),
        ("dump", "zip", True, True),
        ("userdata", "tar", False, True),
        ("absolute", "tar", True, False),
    ],
)
def test_synthetic_android_ffs_links_media(
    case: CaseHandle, tmp_path: Path, layout: str, fmt: str, decoy: bool, absolute: bool
) -> None:
    """Relative media paths (current WhatsApp) and absolute ones (/storage/emulated/0/..., older
    versions) reach the file in the source's own extraction, whatever the layout."""
    net, phone = _net()
    (tmp_path / "dev").mkdir()
    info = write_android_ffs(
        net, phone, tmp_path / "dev" / f"phone.{fmt}", layout=layout, fmt=fmt, decoy=decoy
    )
    res = ingest(case, tmp_path / "dev", IngestOptions("A1", kind="phone", workers=0))
    by_loc = {r.locator: r for r in res.messaging}
    src = f"/phone.{fmt}!/{info['msgstore'].lstrip('/')}"
    assert by_loc[src].status == "complete", res.messaging
    assert canonical(device_path(src) or "") == "/data/data/com.whatsapp/databases/msgstore.db"
    with case.session() as s:
        rows = s.execute(
            select(m.Message.media_path, m.Message.media_sha256).where(
                m.Message.device_id == "A1", m.Message.media_path.is_not(None)
            )
        ).all()
        apps = {r["app"]: r for r in inventory(s, "A1")}
    linked = {p: sha for p, sha in rows if p in info["present"]}
    assert len(linked) == len(info["present"]) > 5
    assert linked == info["present"]  # each message reached its own file, never the decoy's
    assert all(sha is None for p, sha in rows if p in info["deleted"])
    assert apps["WhatsApp for Android"]["status"] == "parsed"
    where = apps["WhatsApp for Android"]["device_path"]
    assert canonical(where) == "/data/data/com.whatsapp/databases/msgstore.db"
