"""WhatsApp's real-world ``msgstore.db`` quirks in one small invented database (``write_quirks``).

What real phones of the schema-migration years hold and a reader must survive: both schemas' message
tables (some messages migrated into both), WhatsApp's sentinel and placeholder rows, the owner as
``status_me``, device JIDs with and without a user row, an ``@lid`` identity mapped to a phone JID,
memberships in either participant table, and a message whose chat row is gone. Everything invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tessera.synth.msgstore import _fresh
from tessera.synth.msgstore_schema import CURRENT_DDL, LEGACY_DDL

#: Invented identities of the quirks database (``write_quirks``): the person ``A`` has a user row and
#: a device row, ``B`` only a device row, ``C`` an ``@lid`` id mapped to a phone JID; the owner is
#: ``status_me``. Raw forms as WhatsApp writes them; the accounts the reader must give in ``ACCOUNT``.
QUIRK_JIDS = {
    "A": "34600000001@s.whatsapp.net",
    "A.dev": "34600000001.0:1@s.whatsapp.net",
    "B.dev": "34600000002:3@s.whatsapp.net",
    "C.lid": "90000000000003@lid",
    "C": "34600000003@s.whatsapp.net",
    "G1": "120363000000000001@g.us",
    "G2": "120363000000000002@g.us",
    "me": "status_me",
}
ACCOUNT = {"A": "34600000001@s.whatsapp.net", "B": "34600000002@s.whatsapp.net", "C": "90000000000003@lid"}
_FORM = {"A": "A.dev", "B": "B.dev", "C": "C.lid", "me": "me"}  # how messages name their sender


@dataclass(frozen=True)
class QuirkMessage:
    key_id: str
    chat: str  # "G1", "A" (the private chat with A) or "orphan"
    sender: str  # "A", "B", "C" or "me"
    ms: int
    text: str
    table: str  # "legacy" | "current" | "both" (migrated: the same key in both tables)


#: The orphan's chat row id: no such row in ``chat``.
ORPHAN_CHAT_ROW = 99
QUIRK_MESSAGES = (
    QuirkMessage("K01", "G1", "A", 1_600_000_000_123, "old, only in messages", "legacy"),
    QuirkMessage("K02", "G1", "me", 1_600_000_100_000, "mine, only in messages", "legacy"),
    QuirkMessage("K03", "G1", "B", 1_620_000_000_000, "migrated, in both tables", "both"),
    QuirkMessage("K04", "A", "A", 1_620_000_100_000, "private, in both tables", "both"),
    QuirkMessage("K05", "G1", "C", 1_640_000_000_000, "new, only in message", "current"),
    QuirkMessage("K06", "G1", "me", 1_640_000_100_000, "mine, only in message", "current"),
    QuirkMessage("K07", "orphan", "A", 1_640_000_200_999, "its chat row is gone", "current"),
)
#: group_participant_user: (group, member form, rank); the owner, A twice (user and device JID).
QUIRK_GPU = (("G1", "me", 0), ("G1", "A", 2), ("G1", "A.dev", 2), ("G1", "B.dev", 0), ("G1", "C.lid", 1))
#: group_participants (legacy, only in the "both" layout): '' is the owner.
QUIRK_GP = (("G1", "", 0), ("G1", "A", 2), ("G2", "", 2), ("G2", "B.dev", 0))


def write_quirks(path: Path, layout: str = "both") -> list[QuirkMessage]:
    """A migration-era ``msgstore.db`` with both schemas' tables, WhatsApp's sentinel (legacy) and
    placeholder (current) rows, the owner as ``status_me``, device JIDs, an ``@lid`` id, and an
    orphan message. ``layout``: ``both`` (both tables hold messages, some migrated into both, and
    both participant tables hold rows), ``legacy`` (the messages in ``messages``, ``message`` holding
    only its placeholder, members only in ``group_participant_user``: the real 2021 database),
    ``current`` (``messages`` holding only its sentinel). Returns the messages written."""
    if layout not in ("both", "legacy", "current"):
        raise ValueError(f"unknown layout {layout!r} (both | legacy | current)")
    # Legacy rows name their chat by JID, so none can lose it: no orphan in the legacy layout.
    msgs = [m for m in QUIRK_MESSAGES if layout != "legacy" or m.chat != "orphan"]
    conn = _fresh(path)
    try:
        with conn:
            conn.executescript(CURRENT_DDL + LEGACY_DDL)
            rows: dict[str, int] = {}
            for name, raw in QUIRK_JIDS.items():
                user, _, server = raw.rpartition("@") if "@" in raw else ("", "", raw)
                number, _, dev = user.partition(":")
                number, _, agent = number.partition(".")
                cur = conn.execute(
                    "INSERT INTO jid (user, server, agent, device, type, raw_string) VALUES (?,?,?,?,?,?)",
                    (number, server, int(agent or 0), int(dev or 0), 17 if dev else 0, raw),
                )
                rows[name] = cur.lastrowid or 0
            conn.execute("INSERT INTO jid_map VALUES (?, ?, 0)", (rows["C.lid"], rows["C"]))
            chat_row: dict[str, int] = {}
            for c in ("G1", "A"):
                group = c == "G1"
                cur = conn.execute(
                    "INSERT INTO chat (jid_row_id, subject, created_timestamp) VALUES (?, ?, ?)",
                    (rows[c], "Quirks" if group else None, 1_590_000_000_000 if group else None),
                )
                chat_row[c] = cur.lastrowid or 0
            conn.execute(
                "INSERT INTO chat_list (key_remote_jid, subject) VALUES (?, 'Quirks')", (QUIRK_JIDS["G1"],)
            )
            conn.executemany(
                "INSERT INTO group_participant_user (group_jid_row_id, user_jid_row_id, rank, pending) "
                "VALUES (?, ?, ?, 0)",
                [(rows[g], rows[u], r) for g, u, r in QUIRK_GPU],
            )
            if layout == "both":
                conn.executemany(
                    "INSERT INTO group_participants (gjid, jid, admin) VALUES (?, ?, ?)",
                    [(QUIRK_JIDS[g], QUIRK_JIDS.get(u, u), r) for g, u, r in QUIRK_GP],
                )
            conn.execute(  # WhatsApp's own rows, no messages: the sentinel and the placeholder
                "INSERT INTO messages (key_remote_jid, key_from_me, key_id, status) VALUES ('-1',0,'-1',-1)"
            )
            conn.execute("INSERT INTO message (chat_row_id, from_me, key_id) VALUES (-1, 0, '-1')")
            for m in msgs:
                me, form = m.sender == "me", _FORM[m.sender]
                if layout == "legacy" or (layout == "both" and m.table in ("legacy", "both")):
                    rres = None if m.chat != "G1" else ("" if me else QUIRK_JIDS[form])
                    conn.execute(
                        "INSERT INTO messages (key_remote_jid, key_from_me, key_id, status, data, timestamp, "
                        "media_wa_type, remote_resource) VALUES (?, ?, ?, 0, ?, ?, '0', ?)",
                        (QUIRK_JIDS[m.chat], int(me), m.key_id, m.text, m.ms, rres),
                    )
                if layout == "current" or (layout == "both" and m.table in ("current", "both")):
                    sender = 0 if me or m.chat == "A" else rows[form]
                    conn.execute(
                        "INSERT INTO message (chat_row_id, from_me, key_id, sender_jid_row_id, timestamp, "
                        "message_type, text_data) VALUES (?, ?, ?, ?, ?, 0, ?)",
                        (chat_row.get(m.chat, ORPHAN_CHAT_ROW), int(me), m.key_id, sender, m.ms, m.text),
                    )
    finally:
        conn.close()
    return msgs
