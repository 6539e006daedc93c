"""WhatsApp Business for Android and the Android 11+ media locations, read through the WhatsApp parser.

Synthetic extraction folders (``tessera.synth.msgstore_apps``) of both apps, in both storage layouts,
ingested whole: the Business database is claimed by "whatsapp-business-msgstore", its owner read from
its own preferences, its accounts on platform "whatsapp" (one account per JID whichever app shows it)
and its attachments linked by path through its own media root, never through the other app's.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging import PARSERS
from tessera.messaging.coverage import Coverage
from tessera.messaging.detect import detect_parser
from tessera.messaging.records import AccountRecord, MessageRecord
from tessera.messaging.whatsapp_db import (
    BUSINESS_MEDIA_ROOTS,
    MEDIA_ROOTS,
    is_business,
    media_candidates,
    parse_file,
)
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.msgstore import plan
from tessera.synth.msgstore_apps import write_app_tree
from tessera.synth.network import Network, Seizure, make_network

HEAD = b"SQLite format 3\x00" + b"\x00" * 100 + b"CREATE TABLE message (chat_row_id, sender_jid_row_id)"


def _small(seed: int) -> Network:
    return make_network(seed, n_people=18, n_items=8, n_posts=90, image_size=(64, 48))


NET = _small(21)
OTHER = _small(22)  # another phone's network: the same file names, other images


def _phone(net: Network, n: int = 0) -> Seizure:
    return [s for s in net.seizures if s.kind == "phone" and s.format.startswith("msgstore")][n]


def test_registered_and_claimed_by_path() -> None:
    assert "whatsapp-business-msgstore" in PARSERS and "whatsapp-msgstore" in PARSERS
    assert PARSERS.get("whatsapp-business-msgstore").media_roots == BUSINESS_MEDIA_ROOTS
    business = [
        "/data/data/com.whatsapp.w4b/databases/msgstore.db",
        "/data/user/0/com.whatsapp.w4b/databases/msgstore.db",
        "/sdcard/WhatsApp Business/Databases/msgstore-2024-03-01.1.db",
        "/sdcard/Android/media/com.whatsapp.w4b/WhatsApp Business/Databases/msgstore.db",
        "/ffs.zip!/data/data/com.whatsapp.w4b/databases/msgstore.db",
    ]
    plain = [
        "/data/data/com.whatsapp/databases/msgstore.db",
        "/sdcard/Android/media/com.whatsapp/WhatsApp/Databases/msgstore.db",
        "/sdcard/WhatsApp/Databases/msgstore.db",
        "/ffs.zip!/data/user/0/com.whatsapp/databases/msgstore.db",
    ]
    for loc in business:
        assert is_business(loc), loc
        assert detect_parser(loc, HEAD) == "whatsapp-business-msgstore", loc
    for loc in plain:
        assert not is_business(loc), loc
        assert detect_parser(loc, HEAD) == "whatsapp-msgstore", loc
    assert media_candidates("Media/WhatsApp Images/a.jpg", "/sdcard", BUSINESS_MEDIA_ROOTS) == [
        "/sdcard/Android/media/com.whatsapp.w4b/WhatsApp Business/Media/WhatsApp Images/a.jpg",
        "/sdcard/WhatsApp Business/Media/WhatsApp Images/a.jpg",
    ]
    assert media_candidates("Media/x.jpg")[0] == "/sdcard/Android/media/com.whatsapp/WhatsApp/Media/x.jpg"
    assert MEDIA_ROOTS[1] == "WhatsApp"


def test_business_parse_reads_its_own_owner(tmp_path: Path) -> None:
    seizure = _phone(NET)
    assert seizure.owner is not None
    owner = NET.people[seizure.owner]
    tree = write_app_tree(NET, seizure, tmp_path / "dev", business=True)
    cov = Coverage()
    # The WhatsApp owner given by the examiner is not the Business app's: its preferences win.
    opts = {"owner": "+1"}
    records = list(parse_file(tree["msgstore"], scratch=tmp_path / "s", coverage=cov, options=opts))
    assert "app: WhatsApp Business (com.whatsapp.w4b)" in cov.notes
    owners = [a for a in records if isinstance(a, AccountRecord) and a.is_device_owner]
    assert [(a.platform, a.raw_id, a.phone) for a in owners] == [("whatsapp", owner.wa_jid, owner.phone)]
    assert owners[0].locator is not None
    assert "/com.whatsapp.w4b/" in owners[0].locator
    assert owners[0].locator.endswith("/shared_prefs/com.whatsapp.w4b_preferences_light.xml")
    messages = [r for r in records if isinstance(r, MessageRecord)]
    assert len(messages) == len(plan(NET, seizure)) and cov.status() == "complete"
    assert all(r.platform == "whatsapp" for r in records if hasattr(r, "platform"))


def test_business_owner_option_and_placeholder(tmp_path: Path) -> None:
    tree = write_app_tree(NET, _phone(NET), tmp_path / "dev", business=True)
    alone = tmp_path / "WhatsApp Business" / "Databases"
    alone.mkdir(parents=True)
    shutil.copy(tree["msgstore"], alone / "msgstore.db")

    def owners(**kw: Any) -> list[str]:
        recs = parse_file(alone / "msgstore.db", scratch=tmp_path / "s", device_id="P-01", **kw)
        return [r.raw_id for r in recs if isinstance(r, AccountRecord) and r.is_device_owner]

    # Not the WhatsApp owner's placeholder: the two apps' unknown owners stay two accounts.
    assert owners(options={"owner": "+34 612 34 56 78"}) == ["whatsapp:business-owner@P-01"]
    assert owners(options={"business_owner": "+34 612 34 56 78"}) == ["34612345678@s.whatsapp.net"]
    assert owners(owner="+34 612 34 56 78") == ["34612345678@s.whatsapp.net"]  # parse_file's own option


def _linked(case: CaseHandle, source: str) -> dict[str, str | None]:
    """media_path -> media_sha256 of the source's image messages."""
    with case.session() as s:
        rows = s.execute(
            select(m.Message.media_path, m.Message.media_sha256)
            .join(m.MessagingSource, m.MessagingSource.id == m.Message.source_id)
            .where(m.MessagingSource.locator == source, m.Message.media_path.is_not(None))
        ).all()
    return dict(rows)


def _file_sha(case: CaseHandle, locator: str) -> str | None:
    with case.session() as s:
        return s.scalar(select(m.File.sha256).where(m.File.locator == locator))


@pytest.mark.parametrize(
    ("business", "layout"),
    [(True, "android11"), (True, "legacy"), (False, "android11"), (False, "legacy")],
)
def test_media_linked_by_path_in_each_app_and_layout(
    case: CaseHandle, tmp_path: Path, business: bool, layout: str
) -> None:
    """No hash in the database: every attachment is linked through the app's media root, in the
    Android 11+ location and the old one; the deleted ones stay unlinked, counted, never guessed."""
    seizure = _phone(NET)
    tree = write_app_tree(NET, seizure, tmp_path / "dev", business=business, layout=layout, file_hashes=False)
    res = ingest(case, tmp_path / "dev", IngestOptions("P-01", kind="phone", workers=0))
    source = "/" + tree["msgstore"].relative_to(tmp_path / "dev").as_posix()
    parser = "whatsapp-business-msgstore" if business else "whatsapp-msgstore"
    assert [(r.locator, r.parser, r.status) for r in res.messaging] == [(source, parser, "complete")]
    linked = _linked(case, source)
    assert set(linked) == set(tree["present"]) | set(tree["deleted"])
    assert tree["present"] and tree["deleted"]
    for path, sha in tree["present"].items():
        assert linked[path] == sha == _file_sha(case, f"{tree['media_locator']}/{path}"), path
    assert all(linked[path] is None for path in tree["deleted"])


def test_both_apps_on_one_phone(case: CaseHandle, tmp_path: Path) -> None:
    """WhatsApp and WhatsApp Business side by side, both in the Android 11+ layout, their images under
    the same names: each message is linked to its own app's file. Accounts shown by both apps are
    one account each (same network, same JID)."""
    root = tmp_path / "dev"
    wa = write_app_tree(NET, _phone(NET), root, business=False, file_hashes=False, delete_fraction=0)
    w4b = write_app_tree(OTHER, _phone(OTHER), root, business=True, file_hashes=False, delete_fraction=0)
    clash = {p for p in wa["present"] if p in w4b["present"] and wa["present"][p] != w4b["present"][p]}
    assert clash, "the test needs file names both apps use for different images"
    res = ingest(case, root, IngestOptions("P-02", kind="phone", workers=0))
    assert sorted((r.parser, r.status) for r in res.messaging) == [
        ("whatsapp-business-msgstore", "complete"),
        ("whatsapp-msgstore", "complete"),
    ]
    for tree in (wa, w4b):
        source = "/" + tree["msgstore"].relative_to(root).as_posix()
        linked = _linked(case, source)
        assert {p: linked[p] for p in tree["present"]} == tree["present"]
    mine = {NET.people[_phone(NET).owner or ""].phone, OTHER.people[_phone(OTHER).owner or ""].phone}
    with case.session() as s:
        keys = set(s.scalars(select(m.Account.key).where(m.Account.platform == "whatsapp")))
        placeholders = [k for k in keys if "owner@" in k]
    assert mine <= keys and not placeholders  # each app's owner, from its own preferences


def test_same_jid_in_both_apps_is_one_account(case: CaseHandle, tmp_path: Path) -> None:
    """Two phones' databases of the same network, one read as WhatsApp Business: a member both show
    is one account, seen in both sources."""
    root = tmp_path / "dev"
    a, b = _phone(NET, 0), _phone(NET, 1)
    write_app_tree(NET, a, root, business=False)
    write_app_tree(NET, b, root, business=True)
    ingest(case, root, IngestOptions("P-03", kind="phone", workers=0))
    both = NET.seen_on(a) & NET.seen_on(b)
    assert both
    with case.session() as s:
        parsers = dict(s.execute(select(m.MessagingSource.id, m.MessagingSource.parser)).all())
        for key in both:
            acc = s.scalars(select(m.Account).where(m.Account.key == NET.people[key].phone)).one()
            assert acc.platform == "whatsapp"
            seen = s.scalars(
                select(m.Sighting.source_id).where(
                    m.Sighting.entity == "account", m.Sighting.entity_id == acc.id
                )
            ).all()
            assert {parsers[x] for x in seen} == {"whatsapp-msgstore", "whatsapp-business-msgstore"}, key


def test_business_in_a_full_file_system_zip(case: CaseHandle, tmp_path: Path) -> None:
    """The same tree as an FFS zip (the Android 11+ shared storage under ``data/media/0``): the Business
    database is claimed inside the archive and its attachments linked to the archive's members."""
    tree = write_app_tree(NET, _phone(NET), tmp_path / "dev", business=True, file_hashes=False)
    ffs = tmp_path / "ev" / "extraction.zip"
    ffs.parent.mkdir()
    with zipfile.ZipFile(ffs, "w") as z:
        for f in sorted((tmp_path / "dev").rglob("*")):
            if f.is_file():
                rel = f.relative_to(tmp_path / "dev").as_posix()
                z.write(f, rel.replace("sdcard/", "data/media/0/", 1) if rel.startswith("sdcard/") else rel)
    res = ingest(case, tmp_path / "ev", IngestOptions("P-04", kind="phone", workers=0))
    source = "/extraction.zip!/data/data/com.whatsapp.w4b/databases/msgstore.db"
    assert [(r.locator, r.parser, r.status) for r in res.messaging] == [
        (source, "whatsapp-business-msgstore", "complete")
    ]
    linked = _linked(case, source)
    root = "/extraction.zip!/data/media/0/Android/media/com.whatsapp.w4b/WhatsApp Business"
    for path, sha in tree["present"].items():
        assert linked[path] == sha == _file_sha(case, f"{root}/{path}"), path
    assert all(linked[path] is None for path in tree["deleted"])
