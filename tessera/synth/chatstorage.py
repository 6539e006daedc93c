"""Synthetic WhatsApp for iOS evidence: ``ChatStorage.sqlite`` and ``ContactsV2.sqlite``.

``write_chatstorage`` writes an app-group container folder the way an iPhone holds it: the Core Data
tables of WhatsApp 2.2x (columns as in a real iOS 15 database), ``ContactsV2.sqlite`` beside it and,
when asked, media files under ``Message/`` where ``ZMEDIALOCALPATH`` points. It returns the ground
truth of what it wrote (``Truth``), so tests and benchmarks check the parser against it.

Quirks of real databases reproduced: groups whose members are phone JIDs and ``@lid`` ids, the owner
listed as a group admin, former members (``ZISACTIVE`` 0), a member row written twice, group events
(type 6) and status events (type 10) without a sender, ``ZMESSAGECOUNTER`` larger than the rows it
counts, incoming one-to-one rows with and without ``ZFROMJID``, media items with a local path, without
one (never downloaded), location items, link previews on text messages, push names of people no chat
names, and address-book entries without a WhatsApp id. Optional damage: media items no message
points at, messages whose chat session is gone, rows without a date.
Everything is invented: names, numbers, texts, file bytes.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

CORE_DATA_EPOCH = 978307200
#: A fixed start: 2024-01-01T00:00:00Z in Core Data seconds.
START = datetime(2024, 1, 1, tzinfo=UTC).timestamp() - CORE_DATA_EPOCH

CHATSTORAGE_DDL = """
CREATE TABLE ZWAMESSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZCHILDMESSAGESDELIVEREDCOUNT INTEGER, ZCHILDMESSAGESPLAYEDCOUNT INTEGER, ZCHILDMESSAGESREADCOUNT INTEGER,
  ZDATAITEMVERSION INTEGER, ZDOCID INTEGER, ZENCRETRYCOUNT INTEGER, ZFILTEREDRECIPIENTCOUNT INTEGER,
  ZFLAGS INTEGER, ZGROUPEVENTTYPE INTEGER, ZISFROMME INTEGER, ZMESSAGEERRORSTATUS INTEGER,
  ZMESSAGESTATUS INTEGER, ZMESSAGETYPE INTEGER, ZSORT INTEGER, ZSPOTLIGHTSTATUS INTEGER, ZSTARRED INTEGER,
  ZCHATSESSION INTEGER, ZGROUPMEMBER INTEGER, ZLASTSESSION INTEGER, ZMEDIAITEM INTEGER,
  ZMESSAGEINFO INTEGER, ZPARENTMESSAGE INTEGER, ZMESSAGEDATE TIMESTAMP, ZSENTDATE TIMESTAMP,
  ZFROMJID VARCHAR, ZMEDIASECTIONID VARCHAR, ZPHASH VARCHAR, ZPUSHNAME VARCHAR, ZSTANZAID VARCHAR,
  ZTEXT VARCHAR, ZTOJID VARCHAR );
CREATE INDEX ZWAMESSAGE_ZCHATSESSION_INDEX ON ZWAMESSAGE (ZCHATSESSION);
CREATE INDEX ZWAMESSAGE_ZGROUPMEMBER_INDEX ON ZWAMESSAGE (ZGROUPMEMBER);
CREATE INDEX ZWAMESSAGE_ZMEDIAITEM_INDEX ON ZWAMESSAGE (ZMEDIAITEM);
CREATE INDEX Z_WAMessage_byMessageDateIndex ON ZWAMESSAGE (ZMESSAGEDATE COLLATE BINARY ASC);
CREATE INDEX Z_WAMessage_byStanzaIDIndex ON ZWAMESSAGE (ZSTANZAID COLLATE BINARY ASC);
CREATE TABLE ZWACHATSESSION ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZARCHIVED INTEGER,
  ZCONTACTABID INTEGER, ZFLAGS INTEGER, ZHIDDEN INTEGER, ZIDENTITYVERIFICATIONEPOCH INTEGER,
  ZIDENTITYVERIFICATIONSTATE INTEGER, ZMESSAGECOUNTER INTEGER, ZREMOVED INTEGER, ZSESSIONTYPE INTEGER,
  ZSPOTLIGHTSTATUS INTEGER, ZUNREADCOUNT INTEGER, ZGROUPINFO INTEGER, ZLASTMESSAGE INTEGER,
  ZPROPERTIES INTEGER, ZLASTMESSAGEDATE TIMESTAMP, ZLOCATIONSHARINGENDDATE TIMESTAMP,
  ZCONTACTIDENTIFIER VARCHAR, ZCONTACTJID VARCHAR, ZETAG VARCHAR, ZLASTMESSAGETEXT VARCHAR,
  ZPARTNERNAME VARCHAR, ZSAVEDINPUT VARCHAR );
CREATE TABLE ZWAGROUPMEMBER ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONTACTABID INTEGER,
  ZISACTIVE INTEGER, ZISADMIN INTEGER, ZSENDERKEYSENT INTEGER, ZCHATSESSION INTEGER,
  ZRECENTGROUPCHAT INTEGER, ZCONTACTIDENTIFIER VARCHAR, ZCONTACTNAME VARCHAR, ZFIRSTNAME VARCHAR,
  ZMEMBERJID VARCHAR );
CREATE TABLE ZWAGROUPINFO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZSTATE INTEGER,
  ZCHATSESSION INTEGER, ZLASTMESSAGEOWNER INTEGER, ZCREATIONDATE TIMESTAMP, ZSUBJECTTIMESTAMP TIMESTAMP,
  ZCREATORJID VARCHAR, ZOWNERJID VARCHAR, ZPICTUREID VARCHAR, ZPICTUREPATH VARCHAR, ZSOURCEJID VARCHAR,
  ZSUBJECTOWNERJID VARCHAR );
CREATE TABLE ZWAMEDIAITEM ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCLOUDSTATUS INTEGER,
  ZFILESIZE INTEGER, ZMEDIAORIGIN INTEGER, ZMOVIEDURATION INTEGER, ZMESSAGE INTEGER, ZASPECTRATIO FLOAT,
  ZHACCURACY FLOAT, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZMEDIAURLDATE TIMESTAMP, ZAUTHORNAME VARCHAR,
  ZCOLLECTIONNAME VARCHAR, ZMEDIALOCALPATH VARCHAR, ZMEDIAURL VARCHAR, ZTHUMBNAILLOCALPATH VARCHAR,
  ZTITLE VARCHAR, ZVCARDNAME VARCHAR, ZVCARDSTRING VARCHAR, ZXMPPTHUMBPATH VARCHAR, ZMEDIAKEY BLOB,
  ZMETADATA BLOB );
CREATE INDEX ZWAMEDIAITEM_ZMESSAGE_INDEX ON ZWAMEDIAITEM (ZMESSAGE);
CREATE TABLE ZWAPROFILEPUSHNAME ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZJID VARCHAR,
  ZPUSHNAME VARCHAR );
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
"""

CONTACTS_DDL = """
CREATE TABLE ZWAADDRESSBOOKCONTACT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZDISAPPEARINGMODEDURATION INTEGER, ZPHONESTATUS INTEGER, ZSECTIONSORT INTEGER, ZSORT INTEGER,
  ZSPOTLIGHTSTATUS INTEGER, ZABOUTTIMESTAMP TIMESTAMP, ZDISAPPEARINGMODETIMESTAMP TIMESTAMP,
  ZABOUTTEXT VARCHAR, ZFULLNAME VARCHAR, ZGIVENNAME VARCHAR, ZHIGHLIGHTEDNAME VARCHAR, ZIDENTIFIER VARCHAR,
  ZLOCALIZEDPHONENUMBER VARCHAR, ZPHONENUMBER VARCHAR, ZPHONENUMBERLABEL VARCHAR, ZSEARCHTOKENLIST VARCHAR,
  ZSECTIONTITLE VARCHAR, ZWHATSAPPID VARCHAR, ZDEVICELIST BLOB );
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
"""

_MSG_COLS = (
    "Z_PK, Z_ENT, Z_OPT, ZFLAGS, ZGROUPEVENTTYPE, ZISFROMME, ZMESSAGESTATUS, ZMESSAGETYPE, ZSORT, "
    "ZCHATSESSION, ZGROUPMEMBER, ZMEDIAITEM, ZMESSAGEDATE, ZSENTDATE, ZFROMJID, ZSTANZAID, ZTEXT, ZTOJID"
)
_MEDIA_COLS = (
    "Z_PK, Z_ENT, Z_OPT, ZFILESIZE, ZMESSAGE, ZLATITUDE, ZLONGITUDE, ZMEDIALOCALPATH, ZTITLE, ZVCARDNAME"
)


def phone_jid(n: int) -> str:
    """An invented number (+1 202 555 01xx style, widened) as a WhatsApp JID."""
    return f"1202555{n:04d}@s.whatsapp.net"


def lid_jid(n: int) -> str:
    return f"{900000000000000 + n}@lid"


@dataclass
class Truth:
    """What ``write_chatstorage`` wrote, in the terms a reader must give back."""

    path: Path
    owner: str
    messages: int = 0
    from_me: int = 0
    per_type: dict[int, int] = field(default_factory=dict)
    #: chat JID -> number of message rows (not ZMESSAGECOUNTER)
    chats: dict[str, int] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)
    #: (group JID, member JID) of every distinct membership
    members: set[tuple[str, str]] = field(default_factory=set)
    member_rows: int = 0
    duplicate_member_rows: int = 0
    lid_members: set[str] = field(default_factory=set)
    #: @lid member -> the phone JID of the person it stands for (written to LID.sqlite when asked)
    lid_phone: dict[str, str] = field(default_factory=dict)
    lid_rows: int = 0
    push_names: dict[str, str] = field(default_factory=dict)
    #: address-book name per WhatsApp JID, and rows without a WhatsApp id
    contacts: dict[str, str] = field(default_factory=dict)
    contacts_without_id: int = 0
    media_items: int = 0
    #: ZMEDIALOCALPATH -> SHA-256 of the planted file (None when not planted)
    media_paths: dict[str, str | None] = field(default_factory=dict)
    orphan_media: int = 0
    lost_chat_rows: int = 0
    undated_rows: int = 0
    #: Z_PK -> Unix seconds of ZMESSAGEDATE
    times: dict[int, float] = field(default_factory=dict)


def _fresh(path: Path, ddl: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.executescript(ddl)
    return conn


def write_chatstorage(
    folder: Path,
    *,
    n_messages: int = 300,
    n_groups: int = 3,
    n_private: int = 4,
    members_per_group: int = 6,
    seed: int = 0,
    contacts: bool = True,
    plant_media: bool = False,
    orphan_media: int = 0,
    lost_chat_rows: int = 0,
    undated_rows: int = 0,
    people: list[str] | None = None,
    lids: bool = False,
) -> Truth:
    """Write ``folder/ChatStorage.sqlite`` (and ``ContactsV2.sqlite``, media under ``Message/``).
    ``people``: the phone JIDs of the owner's contacts (invented ones by default), e.g. the JIDs of
    a synthetic Android ``msgstore.db``, so one person is on both platforms."""
    rng = random.Random(seed)
    owner = phone_jid(0)
    truth = Truth(folder / "ChatStorage.sqlite", owner)
    conn = _fresh(truth.path, CHATSTORAGE_DDL)
    if not people:
        people = [phone_jid(i) for i in range(1, max(n_private, members_per_group * n_groups) + 1)]
    assert len(people) >= n_private, "one person per one-to-one chat"

    # --- chats and members --------------------------------------------------------------------
    sessions: list[tuple[int, str, bool]] = []  # (Z_PK, JID, is_group)
    group_members: dict[int, list[tuple[int, str]]] = {}  # session pk -> (member pk, jid)
    member_pk = 0
    for g in range(n_groups):
        pk, jid = len(sessions) + 1, f"1203630{g:011d}@g.us"
        sessions.append((pk, jid, True))
        truth.groups.add(jid)
        truth.titles[jid] = f"Group {g}"
        conn.execute(
            "INSERT INTO ZWAGROUPINFO (Z_PK, ZCHATSESSION, ZCREATIONDATE, ZCREATORJID) VALUES (?, ?, ?, ?)",
            (pk, pk, START + g * 3600, owner if g % 2 == 0 else None),
        )
        roster = [owner] + [
            people[(g * members_per_group + k) % len(people)] for k in range(members_per_group)
        ]
        for k, mjid in enumerate(roster):
            if k % 3 == 2:  # every third member known only by a privacy id
                truth.lid_phone[lid_jid(g * 100 + k)] = mjid
                mjid = lid_jid(g * 100 + k)
                truth.lid_members.add(mjid)
            member_pk += 1
            active = 0 if k == len(roster) - 1 else 1  # the last one left the group
            conn.execute(
                "INSERT INTO ZWAGROUPMEMBER (Z_PK, ZCHATSESSION, ZMEMBERJID, ZISADMIN, ZISACTIVE, "
                "ZCONTACTNAME) VALUES (?, ?, ?, ?, ?, ?)",
                (member_pk, pk, mjid, int(mjid == owner), active, None if k % 2 else f"Member {g}.{k}"),
            )
            group_members.setdefault(pk, []).append((member_pk, mjid))
            truth.members.add((jid, mjid))
        member_pk += 1  # WhatsApp writes some members twice (a re-add): same group, same JID
        conn.execute(
            "INSERT INTO ZWAGROUPMEMBER (Z_PK, ZCHATSESSION, ZMEMBERJID, ZISADMIN, ZISACTIVE) "
            "VALUES (?, ?, ?, 0, 1)",
            (member_pk, pk, roster[1]),
        )
        truth.duplicate_member_rows += 1
    truth.member_rows = member_pk
    for p in range(n_private):
        pk, jid = len(sessions) + 1, people[p]
        sessions.append((pk, jid, False))
        truth.titles[jid] = f"Person {p + 1}"

    # --- messages -----------------------------------------------------------------------------
    msgs: list[tuple[object, ...]] = []
    items: list[tuple[object, ...]] = []
    counts: dict[int, int] = {}
    when = START + 86400.0
    for i in range(1, n_messages + 1):
        spk, sjid, is_group = sessions[rng.randrange(len(sessions))] if i > len(sessions) else sessions[i - 1]
        when += rng.randint(1, 300) + (rng.random() if i % 2 else 0.0)  # outgoing rows carry fractions
        roll = rng.random()
        from_me = int(roll < 0.35)
        mtype, event, text = 0, 0, f"message {i}"
        text_or_none: str | None = text
        member: int | None = None
        from_jid: str | None = None
        to_jid: str | None = None
        item: int | None = None
        path: str | None = None
        if is_group and roll > 0.95:
            mtype, event, from_me, from_jid = (6, 12, 0, sjid) if roll > 0.975 else (10, 2, 0, sjid)
            text_or_none = None
            to_jid = owner
        elif not from_me:
            if is_group:
                member, from_jid = rng.choice(group_members[spk][1:])
                from_jid = sjid
            else:
                from_jid = sjid if i % 7 else None  # some incoming rows leave ZFROMJID empty
                to_jid = owner if i % 5 == 0 else None
        pick = rng.random()
        if mtype == 0 and pick < 0.08:
            mtype, text_or_none = 1, None  # an image
        elif mtype == 0 and pick < 0.1:
            mtype, text_or_none = 5, None  # a location
        if mtype in (1, 5) or (mtype == 0 and i % 50 == 0):  # a link preview: an item without a path
            item = len(items) + 1
            if mtype == 1 and i % 3:
                name = hashlib.md5(str(i).encode()).hexdigest()
                path = f"Media/{sjid}/{i % 16:x}/{(i // 16) % 16:x}/{name}.jpg"
                truth.media_paths[path] = None
            size = rng.randint(10_000, 90_000) if path else 0
            lat, lon = (40.0 + rng.random(), -3.0 - rng.random()) if mtype == 5 else (0.0, 0.0)
            items.append((item, 8, 1, size, i, lat, lon, path, None, None))
        date: float | None = when
        if undated_rows and i % max(1, n_messages // undated_rows) == 0 and truth.undated_rows < undated_rows:
            date = None
            truth.undated_rows += 1
        chat_ref: int | None = spk
        if (
            lost_chat_rows
            and i % max(1, n_messages // lost_chat_rows) == 1
            and truth.lost_chat_rows < lost_chat_rows
        ):
            chat_ref = 10_000 + i  # a session row that no longer exists
            truth.lost_chat_rows += 1
        else:
            truth.chats[sjid] = truth.chats.get(sjid, 0) + 1
        msgs.append((
            i, 9, 1, 16777216, event, from_me, 8 if mtype in (0, 1, 5) else 0, mtype, i, chat_ref, member,
            item, date, when if from_me and date is not None else None, from_jid, f"3A{i:018X}", text_or_none,
            to_jid if from_me == 0 else sjid,
        ))  # fmt: skip
        counts[mtype] = counts.get(mtype, 0) + 1
        truth.from_me += from_me
        if date is not None:
            truth.times[i] = date + CORE_DATA_EPOCH
    conn.executemany(f"INSERT INTO ZWAMESSAGE ({_MSG_COLS}) VALUES ({', '.join('?' * 18)})", msgs)
    for k in range(orphan_media):  # items no message points at (their message row was deleted)
        items.append((len(items) + 1, 8, 1, 0, n_messages + 1000 + k, 0.0, 0.0, None, None, None))
    conn.executemany(f"INSERT INTO ZWAMEDIAITEM ({_MEDIA_COLS}) VALUES ({', '.join('?' * 10)})", items)
    truth.messages, truth.per_type, truth.media_items, truth.orphan_media = (
        n_messages,
        counts,
        len(items),
        orphan_media,
    )

    for pk, jid, is_group in sessions:
        n = truth.chats.get(jid, 0)
        conn.execute(
            "INSERT INTO ZWACHATSESSION (Z_PK, Z_ENT, ZCONTACTJID, ZPARTNERNAME, ZSESSIONTYPE, ZGROUPINFO, "
            "ZMESSAGECOUNTER, ZARCHIVED, ZREMOVED, ZHIDDEN) VALUES (?, 4, ?, ?, ?, ?, ?, 0, 0, 0)",
            (pk, jid, truth.titles[jid], int(is_group), pk if is_group else None, n + (1 if is_group else 0)),
        )

    # --- push names: some members, and people no chat names -----------------------------------
    named = [phone_jid(i) for i in range(1, len(people) + 1, 2)] + [phone_jid(5000 + k) for k in range(3)]
    for k, jid in enumerate(named, 1):
        truth.push_names[jid] = f"Push {k}"
        conn.execute(
            "INSERT INTO ZWAPROFILEPUSHNAME (Z_PK, Z_ENT, ZJID, ZPUSHNAME) VALUES (?, 12, ?, ?)",
            (k, jid, f"Push {k}"),
        )
    conn.commit()
    conn.close()

    if lids:
        _write_lids(folder / "LID.sqlite", truth)
    if contacts:
        _write_contacts(folder / "ContactsV2.sqlite", people, truth)
    if plant_media:
        for path in truth.media_paths:
            data = hashlib.sha256(f"{seed}/{path}".encode()).digest() * 64  # invented bytes
            target = folder / "Message" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            truth.media_paths[path] = hashlib.sha256(data).hexdigest()
    return truth


LID_DDL = """
CREATE TABLE ZWAZACCOUNT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCREATEDAT TIMESTAMP,
  ZIDENTIFIER VARCHAR, ZPHONENUMBER VARCHAR );
"""


def _write_lids(path: Path, truth: Truth) -> None:
    """``LID.sqlite`` (newer WhatsApp, layout as public reverse engineering describes it): each
    ``@lid`` member's phone number, plus a row of another id form and one whose number is no number."""
    conn = _fresh(path, LID_DDL)
    rows: list[tuple[int, float, str, str]] = [
        (k, START + k, lid, phone.split("@")[0])
        for k, (lid, phone) in enumerate(sorted(truth.lid_phone.items()), 1)
    ]
    rows.append((len(rows) + 1, START, phone_jid(7000), "12025557000"))  # not an @lid id
    rows.append((len(rows) + 1, START, lid_jid(99_999), "call me"))  # a number that is no number
    conn.executemany(
        "INSERT INTO ZWAZACCOUNT (Z_PK, Z_ENT, ZCREATEDAT, ZIDENTIFIER, ZPHONENUMBER) VALUES (?, 3, ?, ?, ?)",
        rows,
    )
    truth.lid_rows = len(rows)
    conn.commit()
    conn.close()


def _write_contacts(path: Path, people: list[str], truth: Truth) -> None:
    """Every other person saved in the address book, plus numbers that have no WhatsApp."""
    conn = _fresh(path, CONTACTS_DDL)
    rows: list[tuple[int, str, str | None, str | None]] = []
    for k, jid in enumerate(people[::2], 1):
        digits = jid.split("@")[0]
        rows.append((k, f"Contact {k}", f"+{digits[0]} ({digits[1:4]}) {digits[4:7]}-{digits[7:]}", jid))
        truth.contacts[jid] = f"Contact {k}"
    for extra in range(3):
        rows.append((len(rows) + 1, f"Not on WhatsApp {extra}", None, None))
        truth.contacts_without_id += 1
    conn.executemany(
        "INSERT INTO ZWAADDRESSBOOKCONTACT (Z_PK, Z_ENT, ZFULLNAME, ZPHONENUMBER, ZWHATSAPPID) "
        "VALUES (?, 1, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()
