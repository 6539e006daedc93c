"""Names and identities beside WhatsApp for iOS ``ChatStorage.sqlite``: the device owner, push names
(``ZWAPROFILEPUSHNAME``) and the companion address book ``ContactsV2.sqlite``.

Names by strength, as the Android parser ranks them: the owner's address-book name
(``ZWAADDRESSBOOKCONTACT.ZFULLNAME``) first, then the name the account chose (push name), then the
names ``ZWAGROUPMEMBER`` and ``ZWACHATSESSION`` carry. Every name is kept (an account's first record
sets its display name, later ones add to its names). Every row of ``ZWAPROFILEPUSHNAME`` and
``ZWAADDRESSBOOKCONTACT`` is accounted for in the coverage.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from tessera.messaging.base import ParseContext
from tessera.messaging.records import AccountRecord, ParseError
from tessera.messaging.whatsapp_db_common import (
    PLATFORM,
    Owner,
    account_jid,
    col,
    columns,
    is_user_jid,
    open_evidence_db,
    phone_of,
    tables,
)

CONTACTS = "ContactsV2.sqlite"
PUSH_UNIT = "ZWAPROFILEPUSHNAME"
BOOK_UNIT = "ZWAADDRESSBOOKCONTACT"


def find_owner(ctx: ParseContext, conn: sqlite3.Connection) -> tuple[Owner, str | None]:
    """The device owner, whose messages ChatStorage stores with ``ZISFROMME`` = 1 and no sender.

    ``options["owner"]`` (a JID or number the examiner gives) first. Else the recipient WhatsApp
    wrote on the messages this phone received (``ZTOJID`` of rows with ``ZISFROMME`` = 0): a value
    the database itself states, used only when every such row names the same phone JID. Else the
    placeholder ``whatsapp:owner@<device>``, the Android parser's. Returns the owner and a note."""
    given = ctx.options.get("owner", "").strip()
    if given:
        if "@" in given:
            return Owner(account_jid(given), True), "owner: given by the examiner"
        digits = re.sub(r"\D", "", given)
        if digits:
            return Owner(digits + "@s.whatsapp.net", True), "owner: given by the examiner"
    rows = conn.execute(
        "SELECT ZTOJID, MIN(Z_PK), COUNT(*) FROM ZWAMESSAGE WHERE ZISFROMME = 0 "
        "AND ZTOJID LIKE '%@s.whatsapp.net' GROUP BY ZTOJID LIMIT 2"
    ).fetchall()
    if len(rows) == 1:
        jid, first, n = rows[0]
        return (
            Owner(account_jid(jid), True, None, f"{ctx.locator}#ZWAMESSAGE/{first}"),
            f"owner: {account_jid(jid)}, the recipient (ZTOJID) of all {n} received messages that name one",
        )
    placeholder = Owner(f"whatsapp:owner@{ctx.device_id or 'device'}", False)
    if len(rows) > 1:
        return placeholder, "owner: received messages name several recipients (ZTOJID); owner not inferred"
    return placeholder, None


@dataclass
class Names:
    """Names per account JID, strongest first, with the locator each came from."""

    by_jid: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: Accounts only the names tables know (no message, chat or membership names them).
    extra: dict[str, str] = field(default_factory=dict)  # jid -> locator of its first row

    def add(self, jid: str, name: str | None, locator: str) -> None:
        if not name:
            return
        names = self.by_jid.setdefault(jid, [])
        if all(n != name for n, _ in names):
            names.append((name, locator))

    def first(self, jid: str) -> str | None:
        names = self.by_jid.get(jid)
        return names[0][0] if names else None

    def records(self, known: set[str]) -> Iterator[AccountRecord]:
        """Accounts only the names tables know, then every second name of any account."""
        for jid, where in self.extra.items():
            if jid not in known:
                yield AccountRecord(
                    PLATFORM, jid, phone=phone_of(jid), display_name=self.first(jid), locator=where
                )
        for jid, names in self.by_jid.items():
            for name, where in names[1:]:
                yield AccountRecord(PLATFORM, jid, display_name=name, locator=where)


def load_contacts(ctx: ParseContext, names: Names) -> None:
    """``ContactsV2.sqlite`` beside ChatStorage: the owner's address book. A missing file costs only
    the names; an unreadable one is noted in the coverage. Rows without a WhatsApp id are numbers of
    the address book that have no WhatsApp account: counted as ignored, not evidence of this app."""
    opener = ctx.sibling(CONTACTS)
    if opener is None:
        return
    where = ctx.locator.rsplit("/", 1)[0] + "/" + CONTACTS
    cov = ctx.coverage
    try:
        with open_evidence_db(opener, CONTACTS, ctx.sibling, ctx.scratch) as conn:
            if BOOK_UNIT not in tables(conn) or "ZWHATSAPPID" not in (have := columns(conn, BOOK_UNIT)):
                cov.note(f"{CONTACTS}: no {BOOK_UNIT} table with ZWHATSAPPID; address-book names not read")
                return
            held = conn.execute(f"SELECT COUNT(*) FROM {BOOK_UNIT}").fetchone()[0]
            rows = conn.execute(
                f"SELECT a.Z_PK, a.ZWHATSAPPID, {col(have, 'a', 'ZFULLNAME')}, "
                f"{col(have, 'a', 'ZGIVENNAME')} FROM {BOOK_UNIT} a ORDER BY a.Z_PK"
            ).fetchall()
    except (ParseError, sqlite3.Error) as exc:
        cov.note(f"{CONTACTS} not read (address-book names missing): {exc}")
        return
    cov.holds(BOOK_UNIT, held)
    for pk, wid, full, given in rows:
        loc = f"{where}#{BOOK_UNIT}/{pk}"
        jid = account_jid(wid) if wid else ""
        if not jid:
            cov.ignore(BOOK_UNIT, "address-book entry without a WhatsApp id (not on WhatsApp)", loc)
        elif not is_user_jid(jid):
            cov.ignore(BOOK_UNIT, f"WhatsApp id of no person ({jid.rpartition('@')[2]})", loc)
        else:
            cov.parsed(BOOK_UNIT)
            names.add(jid, full or given, loc)
            names.extra.setdefault(jid, loc)


def load_push_names(conn: sqlite3.Connection, ctx: ParseContext, names: Names) -> None:
    """``ZWAPROFILEPUSHNAME``: the name each account chose for itself (optional table)."""
    cov = ctx.coverage
    if PUSH_UNIT not in tables(conn) or not {"ZJID", "ZPUSHNAME"} <= columns(conn, PUSH_UNIT):
        cov.note(f"{PUSH_UNIT}: absent or without ZJID/ZPUSHNAME; push names not read")
        return
    cov.holds(PUSH_UNIT, conn.execute(f"SELECT COUNT(*) FROM {PUSH_UNIT}").fetchone()[0])
    for pk, jid, name in conn.execute(f"SELECT Z_PK, ZJID, ZPUSHNAME FROM {PUSH_UNIT} ORDER BY Z_PK"):
        loc = f"{ctx.locator}#{PUSH_UNIT}/{pk}"
        if not jid or not name:
            cov.ignore(PUSH_UNIT, "no JID or no name", loc)
            continue
        acc = account_jid(jid)
        cov.parsed(PUSH_UNIT)
        names.add(acc, name, loc)
        if is_user_jid(acc):
            names.extra.setdefault(acc, loc)


LIDS = "LID.sqlite"
LID_UNIT = "ZWAZACCOUNT"
_DIGITS = re.compile(r"\+?(\d{7,15})")


def load_lids(ctx: ParseContext) -> dict[str, tuple[str, str]]:
    """``LID.sqlite`` beside ChatStorage (newer WhatsApp versions): ``ZWAZACCOUNT`` maps a privacy id
    (``ZIDENTIFIER`` = ``N@lid``) to the account's phone number (``ZPHONENUMBER``), as ``jid_map``
    does on Android. Returns ``@lid`` JID -> (phone JID, locator); the ``@lid`` stays an account id
    of its own and the two are linked as aliases. The table is read as public reverse engineering
    describes it (SwiftWABackupAPI ``LidAccount``); no real sample is in the corpus, so a number
    that is not 7-15 international digits is skipped with its reason rather than interpreted."""
    opener = ctx.sibling(LIDS)
    if opener is None:
        return {}
    where = ctx.locator.rsplit("/", 1)[0] + "/" + LIDS
    cov = ctx.coverage
    try:
        with open_evidence_db(opener, LIDS, ctx.sibling, ctx.scratch) as conn:
            if LID_UNIT not in tables(conn) or not {"ZIDENTIFIER", "ZPHONENUMBER"} <= columns(conn, LID_UNIT):
                cov.note(f"{LIDS}: no {LID_UNIT} table with ZIDENTIFIER/ZPHONENUMBER; @lid ids not mapped")
                return {}
            order = "ZCREATEDAT, Z_PK" if "ZCREATEDAT" in columns(conn, LID_UNIT) else "Z_PK"
            rows = conn.execute(
                f"SELECT Z_PK, ZIDENTIFIER, ZPHONENUMBER FROM {LID_UNIT} ORDER BY {order}"
            ).fetchall()
    except (ParseError, sqlite3.Error) as exc:
        cov.note(f"{LIDS} not read (@lid ids not mapped to numbers): {exc}")
        return {}
    cov.holds(LID_UNIT, len(rows))
    out: dict[str, tuple[str, str]] = {}
    for pk, ident, number in rows:
        loc = f"{where}#{LID_UNIT}/{pk}"
        lid = (ident or "").strip().lower()
        digits = _DIGITS.fullmatch((number or "").strip())
        if not lid.endswith("@lid"):
            cov.ignore(LID_UNIT, "no @lid identifier (not a privacy id mapping)", loc)
            continue
        if digits is None:
            cov.skip(LID_UNIT, "phone number not 7-15 international digits: not interpreted", loc)
            continue
        cov.parsed(LID_UNIT)
        out[account_jid(lid)] = (digits.group(1) + "@s.whatsapp.net", loc)  # the latest row wins
    return out
