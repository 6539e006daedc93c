"""The app inventory: each known messaging app found on a device, once, parsed or "present, not
parsed" with the reason; recognised by its folders, packages, bundle ids and message stores; shown
by ``tessera sources --apps``, the report and the dashboard."""

from __future__ import annotations

import json
import plistlib
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging.apps import APPS, app_of_source, identify
from tessera.messaging.inventory import inventory
from tessera.review import create_app
from tessera.review.auth import add_user
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.msgstore import write_phone_tree
from tessera.synth.network import make_network
from tests.review.conftest import sign_in

SQLCIPHER = "encrypted database (SQLCipher), key not available"
TITLES = {
    "WhatsApp",
    "WhatsApp Business",
    "Telegram",
    "Signal",
    "Viber",
    "Threema",
    "Wickr",
    "Session",
    "Kik",
    "Discord",
    "Snapchat",
    "Instagram",
    "Facebook Messenger",
}


def test_every_app_of_the_issue_is_known_on_both_platforms() -> None:
    titles = {app.title for _, app in APPS}
    for name in TITLES:
        assert f"{name} for Android" in titles and f"{name} for iOS" in titles, name


def test_ids_are_whole_names() -> None:
    def who(loc: str) -> str | None:
        got = identify(loc)
        return got[0] if got else None

    assert who("/x.zip!/data/data/com.whatsapp/databases/msgstore.db") == "whatsapp-android-data"
    assert who("/x.zip!/data/data/com.whatsapp.w4b/databases/msgstore.db") == "whatsapp-business-android-data"
    assert who("/d/shared_prefs/com.whatsapp_preferences_light.xml") == "whatsapp-android-data"
    assert who("/x/data/data/com.viber.voip/databases/viber_data") == "viber-android-data"
    assert who("/x/Library/Caches/com.viber/a") == "viber-ios-data"
    assert who("/x/data/data/com.mywickr.wickr2/a") == "wickr-android-data"
    assert who("/x/AppGroup/U/Library/Preferences/group.net.whatsapp.WhatsAppSMB.shared.plist") == (
        "whatsapp-business-ios-data"
    )
    assert (
        who("/x/AppGroup/U/Library/Preferences/group.net.whatsapp.WhatsApp.shared.plist")
        == "whatsapp-ios-data"
    )
    assert who("/x/data/data/xcom.whatsapp/a") is None and who("/x/data/data/com.whatsappx/a") is None
    got = identify("/p.zip!/Dump/data/data/com.instagram.android/databases/direct.db")
    assert got is not None and got[2] == "/p.zip!/Dump/data/data/com.instagram.android"


def test_a_parsed_source_stands_for_its_app() -> None:
    wa = app_of_source("whatsapp-msgstore", "/p.zip!/data/data/com.whatsapp/databases/msgstore.db")
    biz = app_of_source("whatsapp-msgstore", "/p.zip!/data/data/com.whatsapp.w4b/databases/msgstore.db")
    card = app_of_source("whatsapp-msgstore", "/sdcard/WhatsApp/Databases/msgstore.db")
    ios = app_of_source(
        "whatsapp-ios", "/x.zip!/filesystem2/mobile/Containers/Shared/AppGroup/U/ChatStorage.sqlite"
    )
    assert wa and biz and card and ios
    assert (wa[1].title, biz[1].title, card[1].title) == (
        "WhatsApp for Android",
        "WhatsApp Business for Android",
        "WhatsApp for Android",
    )
    assert ios[1].title == "WhatsApp for iOS"
    assert app_of_source("whatsapp-export", "/chats/WhatsApp Chat.txt") is None


def _phone(root: Path) -> None:
    """An Android FFS folder: WhatsApp (parsed), Signal (folder only: its SQLCipher store absent),
    Instagram and Messenger folders, Telegram with two accounts' databases, and Threema's
    store under a second name."""
    net = make_network(5)
    write_phone_tree(net, next(s for s in net.seizures if s.format == "msgstore-current"), root)
    for rel in (
        "data/data/org.thoughtcrime.securesms/databases/com.google.android.datatransport.events",
        "data/data/org.thoughtcrime.securesms/shared_prefs/org.thoughtcrime.securesms_preferences.xml",
        "data/data/com.instagram.android/databases/direct.db",
        "data/data/com.facebook.orca/databases/threads_db2",
        "data/data/ch.threema.app/databases/threema4.db",
        "data/data/ch.threema.app/databases/threema.db",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"\x00" * 64)


def test_inventory_once_per_device_with_reasons(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "phone"
    _phone(root)
    res = ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    assert res.errors == 0
    with case.session() as s:
        apps = {r["app"]: r for r in inventory(s, "P1")}
        rows = s.execute(
            select(m.MessagingSource.parser, m.MessagingSource.locator, m.MessagingSource.coverage)
        ).all()
    assert set(apps) == {
        "WhatsApp for Android",
        "Signal for Android",
        "Instagram for Android",
        "Facebook Messenger for Android",
        "Threema for Android",
    }
    assert apps["WhatsApp for Android"]["status"] == "parsed" and apps["WhatsApp for Android"]["messages"] > 0
    signal = apps["Signal for Android"]
    assert signal["status"] == "not parsed" and SQLCIPHER in signal["reason"]
    assert signal["locator"] == "/data/data/org.thoughtcrime.securesms"
    assert signal["device_path"] == "/data/data/org.thoughtcrime.securesms"
    # Messenger's store is named as a file; Threema's two stores are one row, the second in its notes.
    assert apps["Facebook Messenger for Android"]["locator"].endswith("/threads_db2")
    threema = [(p, loc, cov) for p, loc, cov in rows if p.startswith("threema")]
    assert len(threema) == 1 and apps["Threema for Android"]["sources"] == 1
    assert (
        SQLCIPHER in apps["Threema for Android"]["reason"]
        and "2 such files" in apps["Threema for Android"]["reason"]
    )
    assert any("also: /data/data/ch.threema.app/databases/threema" in n for n in threema[0][2]["notes"])
    # Once per device: no second row for WhatsApp's own folder, none on a second run.
    assert not any(p == "whatsapp-android-data" for p, _, _ in rows)
    again = ingest(case, root, IngestOptions("P1", kind="phone", workers=0))
    assert again.messaging == []


def test_one_file_written_twice_is_parsed_once(case: CaseHandle, tmp_path: Path) -> None:
    """Android 11 extractions hold /data/data and /data/user/0 (the same files); rooted phones the
    Magisk mirror too. The copies are one database: parsed once, the other copies named."""
    root = tmp_path / "tree"
    net = make_network(5)
    write_phone_tree(net, next(s for s in net.seizures if s.format == "msgstore-current"), root)
    for other in ("data/user/0", "sbin/.magisk/mirror/data/data"):
        shutil.copytree(root / "data/data", root / other)
    (tmp_path / "dev").mkdir()
    with zipfile.ZipFile(tmp_path / "dev/ffs.zip", "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
    res = ingest(case, tmp_path / "dev", IngestOptions("D2", kind="phone", workers=0))
    got = {r.locator: (r.status, r.error) for r in res.messaging}
    first = "/ffs.zip!/data/data/com.whatsapp/databases/msgstore.db"
    assert got[first][0] == "complete"
    for copy in ("data/user/0", "sbin/.magisk/mirror/data/data"):
        status, why = got[f"/ffs.zip!/{copy}/com.whatsapp/databases/msgstore.db"]
        assert status == "not parsed" and why and first in why
    with case.session() as s:
        (app,) = [a for a in inventory(s, "D2") if a["app"] == "WhatsApp for Android"]
        stored = s.scalar(select(m.MessagingSource.messages).where(m.MessagingSource.locator == first))
    assert app["status"] == "parsed" and app["sources"] == 3 and app["messages"] == stored


def test_business_through_the_whatsapp_parser(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    net = make_network(5)
    write_phone_tree(net, next(s for s in net.seizures if s.format == "msgstore-current"), root)
    (root / "data/data/com.whatsapp").rename(root / "data/data/com.whatsapp.w4b")
    ingest(case, root, IngestOptions("B1", kind="phone", workers=0))
    with case.session() as s:
        apps = {r["app"]: r["status"] for r in inventory(s, "B1")}
    # The media folder of this synthetic tree still names com.whatsapp: WhatsApp's, not Business's.
    assert apps == {"WhatsApp Business for Android": "parsed", "WhatsApp for Android": "not parsed"}


def _store_system(path: Path, bundles: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE app_updates (pid INTEGER, bundle_id TEXT)")
    con.executemany("INSERT INTO app_updates VALUES (?, ?)", list(enumerate(bundles)))
    con.commit()
    con.close()


def test_installed_apps_from_the_app_store_records(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "ios"
    db = root / "filesystem1/private/var/containers/Data/System/U/Documents/Persistence/storeSystem.db"
    _store_system(db, ["com.burbn.instagram", "net.whatsapp.WhatsApp", "com.example.game", "com.kik.chat"])
    grdb = root / "filesystem2/mobile/Containers/Shared/AppGroup/S/grdb/signal.sqlite"
    grdb.parent.mkdir(parents=True)
    grdb.write_bytes(b"\x11" * 4096)
    (root / "filesystem2/mobile/Library/Caches/com.kik.chat").mkdir(parents=True)
    (root / "filesystem2/mobile/Library/Caches/com.kik.chat/c.db").write_bytes(b"k")
    # A container whose paths name only its UUID: its metadata plist names the app.
    snap = root / "filesystem2/containers/Data/Application/A1B2"
    snap.mkdir(parents=True)
    (snap / ".com.apple.mobile_container_manager.metadata.plist").write_bytes(
        plistlib.dumps({"MCMMetadataIdentifier": "com.toyopagroup.picaboo", "MCMMetadataUUID": "A1B2"})
    )
    (snap / "Documents").mkdir()
    (snap / "Documents/x.bin").write_bytes(b"x")
    ingest(case, root, IngestOptions("I1", kind="phone", workers=0))
    with case.session() as s:
        apps = {r["app"]: r for r in inventory(s, "I1")}
    assert set(apps) == {
        "Instagram for iOS",
        "WhatsApp for iOS",
        "Kik for iOS",
        "Signal for iOS",
        "Snapchat for iOS",
    }
    assert apps["Snapchat for iOS"]["device_path"] == "/private/var/containers/Data/Application/A1B2"
    assert apps["Instagram for iOS"]["locator"].endswith("storeSystem.db#app_updates/com.burbn.instagram")
    assert "installed (App Store record" in apps["WhatsApp for iOS"]["reason"]
    # Data beats an App Store record: Kik is shown by its folder, Signal by its database.
    assert apps["Kik for iOS"]["device_path"] == "/private/var/mobile/Library/Caches/com.kik.chat"
    assert apps["Signal for iOS"]["device_path"].endswith("/grdb/signal.sqlite")
    assert SQLCIPHER in apps["Signal for iOS"]["reason"]


def test_a_broken_app_store_database_is_named(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "ios"
    db = root / "private/var/containers/Data/System/U/Documents/Persistence/storeSystem.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    res = ingest(case, root, IngestOptions("I2", kind="phone", workers=0))
    (row,) = [
        r
        for r in res.messaging
        if r.locator == "/private/var/containers/Data/System/U/Documents/Persistence/storeSystem.db"
    ]
    assert row.status == "not parsed" and row.error and "App Store database not read" in row.error


def tessera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)


def test_shown_in_sources_report_and_dashboard(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    from tessera.report.build import build_report
    from tessera.report.render import write_html

    root = tmp_path / "phone"
    _phone(root)
    ingest(sqlite_case, root, IngestOptions("P1", kind="phone", workers=0))
    case_dir = str(sqlite_case.directory)
    listing = tessera("sources", "--apps", "--case", case_dir, "--format", "json")
    assert listing.returncode == 0, listing.stderr
    rows = {r["app"]: r for r in json.loads(listing.stdout)}
    assert rows["Signal for Android"]["status"] == "not parsed"
    csv_out = tessera("sources", "--apps", "--case", case_dir, "--format", "csv", "--status", "parsed")
    assert csv_out.stdout.splitlines()[0] == "device,app,status,messages,sources,device_path,reason"
    assert [line.split(",")[1] for line in csv_out.stdout.splitlines()[1:]] == ["WhatsApp for Android"]
    report = build_report(sqlite_case)
    (dev,) = report["devices"]
    assert {a["app"] for a in dev["apps"]} == set(rows)
    html = tmp_path / "r.html"
    write_html(report, html)
    text = html.read_text()
    assert "Messaging apps (5)" in text and SQLCIPHER in text
    with sqlite_case.session() as s:
        add_user(s, "eva", "examiner", "correct horse battery")
        s.commit()
    with TestClient(create_app(sqlite_case)) as client:
        sign_in(client, "eva")
        page = client.get("/")
    assert page.status_code == 200
    assert "Messaging apps" in page.text and "Signal for Android" in page.text and SQLCIPHER in page.text
