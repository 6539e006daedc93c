"""Render a seized phone of a synthetic ``Network`` as WhatsApp for Android evidence.

``write_msgstore`` writes ``msgstore.db`` (current or legacy schema) with the seizure's visible posts,
its groups' member lists, and group events ("created", "added") from the ground truth; in the current
schema every third person appears under an ``@lid`` identity with a ``jid_map`` row to their phone
JID. ``write_wa_db`` writes the contacts database, ``write_phone_tree`` a whole extraction folder with
the media files (some deleted), and ``write_big_msgstore`` a large database for benchmarks.
WhatsApp's real-world quirks (migration-era tables, device JIDs, ``status_me``) are in
``tessera.synth.msgstore_quirks``.
Everything is invented: names, numbers, abstract images.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import phonenumbers

from tessera.synth.msgstore_schema import CURRENT_DDL, LEGACY_DDL, WA_DDL
from tessera.synth.network import Network, Person, Seizure

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DB_DIR = "data/data/com.whatsapp/databases"
PREFS = "data/data/com.whatsapp/shared_prefs/com.whatsapp_preferences_light.xml"
#: Shared storage of the phone inside the extraction folder, and WhatsApp's media root on it
#: (Android 11+ scoped storage). ``message_media.file_path`` is relative to the media root.
STORAGE = "sdcard"
MEDIA_ROOT = f"{STORAGE}/Android/media/com.whatsapp/WhatsApp"


def uses_lid(person_key: str) -> bool:
    """In the current schema, every third person is known by an ``@lid`` identity."""
    return int(person_key[1:]) % 3 == 0


def in_address_book(person_key: str) -> bool:
    """About 60% of a phone's contacts are saved in its address book (``wa.db`` display_name)."""
    return hashlib.sha256(person_key.encode()).digest()[0] % 5 < 3


def _ms(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Row:
    """One ``msgstore`` message planned from the ground truth."""

    time: datetime
    group: str
    sender: str  # person key (the owner's rows are written as from_me)
    kind: str  # text | image | system
    key_id: str
    text: str | None = None
    item: str | None = None
    forwarded: bool = False
    post_id: int | None = None
    action: int | None = None  # message_system.action_type: 11 created, 12 added
    targets: tuple[str, ...] = ()
    file_path: str | None = None  # relative to the WhatsApp media root


def plan(net: Network, seizure: Seizure) -> list[Row]:
    """The messages a seized phone holds: its visible posts and the group events it saw (its group's
    creation if the owner made it, members added from the owner's own joining on), in time order."""
    assert seizure.owner is not None, "a msgstore belongs to a phone with an owner"
    rng = random.Random(f"{net.seed}/{seizure.device}")
    rows: list[Row] = []

    def key() -> str:
        return f"{rng.getrandbits(128):032X}"

    for g in seizure.groups:
        group = net.groups[g]
        joined = net.members[g]
        mine = joined[seizure.owner]
        if group.creator == seizure.owner:
            rows.append(Row(group.created, g, seizure.owner, "system", key(), action=11))
        for person, t in joined.items():
            if person != group.creator and t >= mine:
                rows.append(Row(t, g, group.creator, "system", key(), action=12, targets=(person,)))
    per_day: dict[str, int] = {}
    for p in net.visible(seizure):
        if p.kind == "image":
            day = p.time.strftime("%Y%m%d")
            n = per_day[day] = per_day.get(day, -1) + 1
            sent = "Sent/" if p.sender == seizure.owner else ""
            path = f"Media/WhatsApp Images/{sent}IMG-{day}-WA{n:04d}.jpg"
            rows.append(
                Row(
                    p.time, p.group, p.sender, "image", key(), None, p.item, p.forwarded, p.id, file_path=path
                )
            )
        else:
            rows.append(Row(p.time, p.group, p.sender, "text", key(), p.text, None, p.forwarded, p.id))
    rows.sort(key=lambda r: (r.time, r.kind != "system", r.post_id or 0))
    return rows


def _people(net: Network, seizure: Seizure) -> list[Person]:
    keys = set(net.seen_on(seizure)) - {seizure.owner}
    return [net.people[k] for k in sorted(keys)]


def _sha256(data: bytes) -> str:
    # Item.sha256 is a cached_property on a slots dataclass, which cannot cache: hash here.
    return hashlib.sha256(data).hexdigest()


def _b64(sha_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha_hex)).decode()


def _fresh(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return sqlite3.connect(path)


def write_msgstore(net: Network, seizure: Seizure, path: Path, schema: str = "current") -> None:
    if schema not in ("current", "legacy"):
        raise ValueError(f"unknown msgstore schema {schema!r} (current | legacy)")
    rows = plan(net, seizure)
    conn = _fresh(path)
    try:
        with conn:
            (_write_current if schema == "current" else _write_legacy)(conn, net, seizure, rows)
    finally:
        conn.close()


def _rank(net: Network, group: str, person: str) -> int:
    order = list(net.members[group])
    if person == net.groups[group].creator:
        return 2
    return 1 if order.index(person) == 1 else 0


def _write_current(conn: sqlite3.Connection, net: Network, seizure: Seizure, rows: list[Row]) -> None:
    conn.executescript(CURRENT_DDL)
    owner = seizure.owner
    jid_row: dict[str, int] = {}  # person or group key -> jid row of the identity the DB uses

    def add_jid(raw: str, jtype: int) -> int:
        user, _, server = raw.partition("@")
        cur = conn.execute(
            "INSERT INTO jid (user, server, agent, device, type, raw_string) VALUES (?, ?, 0, 0, ?, ?)",
            (user, server, jtype, raw),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    for person in _people(net, seizure):
        phone_row = add_jid(person.wa_jid, 0)
        jid_row[person.key] = phone_row
        if uses_lid(person.key):
            lid_row = add_jid(person.lid, 17)
            conn.execute("INSERT INTO jid_map VALUES (?, ?, ?)", (lid_row, phone_row, lid_row))
            jid_row[person.key] = lid_row
    jid_row[owner or ""] = 0  # the device owner is "me": no jid row
    chat_row: dict[str, int] = {}
    for g in seizure.groups:
        group = net.groups[g]
        grow = add_jid(group.wa_jid, 1)
        cur = conn.execute(
            "INSERT INTO chat (jid_row_id, hidden, subject, created_timestamp, sort_timestamp, archived) "
            "VALUES (?, 0, ?, ?, ?, 0)",
            (grow, group.title, _ms(group.created), _ms(group.created)),
        )
        assert cur.lastrowid is not None
        chat_row[g] = cur.lastrowid
        conn.executemany(
            "INSERT INTO group_participant_user (group_jid_row_id, user_jid_row_id, rank, pending) "
            "VALUES (?, ?, ?, 0)",
            [(grow, jid_row[m], _rank(net, g, m)) for m in net.members[g]],
        )
    for r in rows:
        me = r.sender == owner
        mtype = {"text": 0, "image": 1, "system": 7}[r.kind]
        cur = conn.execute(
            "INSERT INTO message (chat_row_id, from_me, key_id, sender_jid_row_id, status, broadcast, "
            "origination_flags, timestamp, received_timestamp, message_type, text_data, sort_id) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, 0)",
            (
                chat_row[r.group],
                int(me),
                r.key_id,
                0 if me else jid_row[r.sender],
                13 if me else 0,
                int(r.forwarded),
                _ms(r.time),
                _ms(r.time) + 900,
                mtype,
                r.text,
            ),
        )
        mid = cur.lastrowid
        conn.execute("UPDATE message SET sort_id = _id WHERE _id = ?", (mid,))
        if r.item is not None:
            item = net.items[r.item]
            conn.execute(
                "INSERT INTO message_media (message_row_id, chat_row_id, transferred, file_path, file_size, "
                "mime_type, file_length, media_name, file_hash, width, height) "
                "VALUES (?, ?, 1, ?, ?, 'image/jpeg', ?, NULL, ?, 320, 240)",
                (
                    mid,
                    chat_row[r.group],
                    r.file_path,
                    len(item.data),
                    len(item.data),
                    _b64(_sha256(item.data)),
                ),
            )
        if r.forwarded:
            conn.execute("INSERT INTO message_forwarded VALUES (?, 1, 0)", (mid,))
        if r.action is not None:
            conn.execute("INSERT INTO message_system VALUES (?, ?)", (mid, r.action))
            conn.executemany(
                "INSERT INTO message_system_chat_participant VALUES (?, ?)",
                [(mid, jid_row[t]) for t in r.targets],
            )


def _write_legacy(conn: sqlite3.Connection, net: Network, seizure: Seizure, rows: list[Row]) -> None:
    conn.executescript(LEGACY_DDL)
    owner = seizure.owner

    def jid(person: str) -> str:
        return "" if person == owner else net.people[person].wa_jid

    # WhatsApp keeps a placeholder row at _id 1.
    conn.execute(
        "INSERT INTO messages (key_remote_jid, key_from_me, key_id, status) VALUES ('-1', 0, '-1', -1)"
    )
    for g in seizure.groups:
        group = net.groups[g]
        conn.execute(
            "INSERT INTO chat_list (key_remote_jid, subject, creation, sort_timestamp) VALUES (?, ?, ?, ?)",
            (group.wa_jid, group.title, _ms(group.created), _ms(group.created)),
        )
        conn.executemany(
            "INSERT INTO group_participants (gjid, jid, admin, pending, sent_sender_key) "
            "VALUES (?, ?, ?, 0, 1)",
            [(group.wa_jid, jid(m), _rank(net, g, m)) for m in net.members[g]],
        )
    for r in rows:
        if r.action is not None and owner in r.targets:
            continue  # legacy "added you" rows carry no member: left out rather than guessed
        me = r.sender == owner
        gjid = net.groups[r.group].wa_jid
        item = net.items[r.item] if r.item else None
        if r.kind == "system":
            about = r.targets[0] if r.targets else r.sender
            values: tuple[Any, ...] = (
                gjid,
                int(me),
                r.key_id,
                6,
                None,
                _ms(r.time),
                "0",
                r.action,
                None,
                None,
                None,
                # WhatsApp names the creator in remote_resource, the owner included (the real 2021
                # database); other events name the member, the owner as ''.
                net.people[about].wa_jid if r.action == 11 else jid(about),
                0,
            )
        else:
            values = (
                gjid,
                int(me),
                r.key_id,
                13 if me else 0,
                r.text,
                _ms(r.time),
                "1" if item else "0",
                len(item.data) if item else 0,
                "image/jpeg" if item else None,
                r.file_path.rsplit("/", 1)[-1] if r.file_path else None,
                _b64(_sha256(item.data)) if item else None,
                "" if me else jid(r.sender),
                int(r.forwarded),
            )
        conn.execute(
            "INSERT INTO messages (key_remote_jid, key_from_me, key_id, status, data, timestamp, "
            "media_wa_type, media_size, media_mime_type, media_name, media_hash, remote_resource, forwarded) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )


def write_wa_db(net: Network, seizure: Seizure, path: Path) -> None:
    """Contacts: every account the phone shows; address-book entries carry the saved name and the
    number as typed (national form), the rest only the name the account chose (``wa_name``)."""
    conn = _fresh(path)
    try:
        with conn:
            conn.executescript(WA_DDL)
            for person in _people(net, seizure):
                saved = in_address_book(person.key)
                number = None
                if saved:
                    parsed = phonenumbers.parse(person.phone)
                    number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
                conn.execute(
                    "INSERT INTO wa_contacts (jid, is_whatsapp_user, number, display_name, wa_name) "
                    "VALUES (?, 1, ?, ?, ?)",
                    (person.wa_jid, number, person.name if saved else None, person.name),
                )
    finally:
        conn.close()


def write_prefs(owner: Person, path: Path) -> None:
    """WhatsApp's shared preferences: the only place on the phone naming the owner's own number."""
    parsed = phonenumbers.parse(owner.phone)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<map>\n"
        f'    <string name="registration_jid">{owner.phone.lstrip("+")}</string>\n'
        f'    <string name="cc">{parsed.country_code}</string>\n'
        f'    <string name="ph">{parsed.national_number}</string>\n'
        f'    <string name="push_name">{html.escape(owner.name)}</string>\n'
        '    <boolean name="registration_success" value="true" />\n</map>\n',
        encoding="utf-8",
    )


def write_phone_tree(
    net: Network, seizure: Seizure, root: Path, *, schema: str | None = None, delete_fraction: float = 0.2
) -> dict[str, Any]:
    """An Android extraction folder: the databases under ``data/data/com.whatsapp/databases``, the
    shared preferences naming the owner, and the images of the visible image posts under the WhatsApp
    media root, less ``delete_fraction`` of them (deleted files whose messages still name them by hash).

    Returns ``msgstore``, ``wa_db``, ``prefs``, ``storage_root`` (the phone's ``/sdcard``),
    ``media_root`` (what ``message_media.file_path`` is relative to:
    ``<storage_root>/Android/media/com.whatsapp/WhatsApp``), ``present`` and ``deleted``
    (file_path -> sha256).
    """
    schema = schema or ("legacy" if seizure.format == "msgstore-legacy" else "current")
    db = root / DB_DIR / "msgstore.db"
    wa = root / DB_DIR / "wa.db"
    write_msgstore(net, seizure, db, schema)
    write_wa_db(net, seizure, wa)
    assert seizure.owner is not None
    write_prefs(net.people[seizure.owner], root / PREFS)
    images = [r for r in plan(net, seizure) if r.item is not None and r.file_path is not None]
    rng = random.Random(f"{net.seed}/{seizure.device}/deleted")
    gone = {r.key_id for r in rng.sample(images, round(len(images) * delete_fraction))}
    present: dict[str, str] = {}
    deleted: dict[str, str] = {}
    media_root = root / MEDIA_ROOT
    for r in images:
        assert r.item is not None and r.file_path is not None
        item = net.items[r.item]
        if r.key_id in gone:
            deleted[r.file_path] = _sha256(item.data)
            continue
        target = media_root / r.file_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.data)
        os.utime(target, (r.time.timestamp(), r.time.timestamp()))
        present[r.file_path] = _sha256(item.data)
    return {
        "msgstore": db,
        "wa_db": wa,
        "prefs": root / PREFS,
        "storage_root": root / STORAGE,
        "media_root": media_root,
        "present": present,
        "deleted": deleted,
    }


def write_big_msgstore(
    path: Path, n_messages: int = 1_000_000, n_groups: int = 50, n_accounts: int = 5000, seed: int = 0
) -> None:
    """A large current-schema database for benchmarks: random invented numbers, 256-member groups,
    10% image messages with media rows, 5% forwarded, 1% sent by the owner, 10% ``@lid`` senders.
    Columns are generated with numpy and inserted with executemany in one transaction."""
    rng = np.random.default_rng(seed)
    conn = _fresh(path)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        with conn:
            conn.executescript(CURRENT_DDL)
            numbers = rng.integers(600_000_000, 699_999_999, size=n_accounts)
            phones = [
                (f"34{n}", "s.whatsapp.net", 0, 0, 0, f"34{n}@s.whatsapp.net") for n in numbers.tolist()
            ]
            conn.executemany(
                "INSERT INTO jid (user, server, agent, device, type, raw_string) VALUES (?,?,?,?,?,?)", phones
            )
            n_lid = n_accounts // 10
            lids = rng.choice(n_accounts, size=n_lid, replace=False) + 1
            lid_users = rng.integers(10**13, 10**14, size=n_lid).tolist()
            conn.executemany(
                "INSERT INTO jid (_id, user, server, agent, device, type, raw_string) "
                "VALUES (?,?,?,0,0,17,?)",
                [(n_accounts + 1 + i, str(u), "lid", f"{u}@lid") for i, u in enumerate(lid_users)],
            )
            conn.executemany(
                "INSERT INTO jid_map VALUES (?,?,?)",
                [(n_accounts + 1 + i, int(p), i) for i, p in enumerate(lids.tolist())],
            )
            sender_of = np.arange(1, n_accounts + 1)
            sender_of[lids - 1] = np.arange(n_accounts + 1, n_accounts + 1 + n_lid)  # lid senders
            g0 = 2 * n_accounts
            conn.executemany(
                "INSERT INTO jid (_id, user, server, agent, device, type, raw_string) "
                "VALUES (?,?,'g.us',0,0,1,?)",
                [(g0 + g, f"1203634{g:011d}", f"1203634{g:011d}@g.us") for g in range(n_groups)],
            )
            t0 = 1_709_280_000_000
            conn.executemany(
                "INSERT INTO chat (_id, jid_row_id, hidden, subject, created_timestamp) VALUES (?,?,0,?,?)",
                [(g + 1, g0 + g, f"Group {g + 1:02d}", t0) for g in range(n_groups)],
            )
            size = min(256, n_accounts)
            members = np.stack([rng.choice(n_accounts, size=size, replace=False) for _ in range(n_groups)])
            conn.executemany(
                "INSERT INTO group_participant_user (group_jid_row_id, user_jid_row_id, rank, pending) "
                "VALUES (?,?,?,0)",
                [
                    (g0 + g, int(sender_of[m]), 2 if j == 0 else 0)
                    for g in range(n_groups)
                    for j, m in enumerate(members[g].tolist())
                ],
            )
            ids = np.arange(1, n_messages + 1)
            chat = rng.integers(0, n_groups, size=n_messages)
            who = members[chat, rng.integers(0, size, size=n_messages)]
            from_me = rng.random(n_messages) < 0.01
            sender = np.where(from_me, 0, sender_of[who])
            ts = t0 + np.cumsum(rng.integers(1, 6000, size=n_messages))
            image = rng.random(n_messages) < 0.10
            fwd = rng.random(n_messages) < 0.05
            conn.executemany(
                "INSERT INTO message (_id, chat_row_id, from_me, key_id, sender_jid_row_id, status, "
                "origination_flags, timestamp, message_type, text_data, sort_id) "
                "VALUES (?,?,?,?,?,0,?,?,?,?,?)",
                (
                    (i, c + 1, f, f"{i:032X}", s, fw, t, 1 if im else 0, None if im else f"message {i}", i)
                    for i, c, f, s, fw, t, im in zip(
                        ids.tolist(),
                        chat.tolist(),
                        from_me.astype(int).tolist(),
                        sender.tolist(),
                        fwd.astype(int).tolist(),
                        ts.tolist(),
                        image.tolist(),
                        strict=True,
                    )
                ),
            )
            img_ids = ids[image].tolist()
            hashes = rng.bytes(32 * len(img_ids))
            conn.executemany(
                "INSERT INTO message_media (message_row_id, chat_row_id, file_path, mime_type, file_length, "
                "file_hash) VALUES (?,?,?,'image/jpeg',?,?)",
                (
                    (
                        i,
                        0,
                        f"Media/WhatsApp Images/IMG-20240301-WA{k:06d}.jpg",
                        50_000 + k % 1000,
                        base64.b64encode(hashes[32 * k : 32 * k + 32]).decode(),
                    )
                    for k, i in enumerate(img_ids)
                ),
            )
            conn.executemany(
                "INSERT INTO message_forwarded VALUES (?, 1, 0)", ((i,) for i in ids[fwd].tolist())
            )
    finally:
        conn.close()
