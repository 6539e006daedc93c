"""WhatsApp for iOS ``CallHistory.sqlite``: plugin "whatsapp-ios-calls".

The call log sits beside ``ChatStorage.sqlite`` in WhatsApp's app-group container. It is a Core Data
store (times in seconds since 2001-01-01 UTC) with, as WhatsApp 2.2x writes it:

- ``ZWACDCALLEVENT``: one row per call: ``ZDATE``, ``ZDURATION`` (seconds, float), ``ZOUTCOME``,
  bytes sent/received, ``ZGROUPCALLCREATORUSERJIDSTRING`` (who started the call: filled on
  one-to-one calls too), ``ZGROUPJIDSTRING`` (the group of a group call), and the link to its
  aggregate (``Z<n>CALLEVENTS``, ``n`` = the aggregate's entity number, read from the schema).
- ``ZWAAGGREGATECALLEVENT``: the row the app's call list shows, grouping consecutive calls of one
  kind: ``ZINCOMING``, ``ZVIDEO``, ``ZMISSED``, ``ZMISSEDREASON``, ``ZFIRSTDATE``. It holds no call of
  its own: its flags are read into each call that points at it, and the row itself is counted as
  ignored ("aggregate of call events"). An aggregate no call points at stands for calls whose rows
  are gone: skipped, named.
- ``ZWACDCALLEVENTPARTICIPANT``: the other parties of a call (``ZJIDSTRING``, ``ZOUTCOME``), linked
  by ``Z<n>PARTICIPANTS``.

Each call is a message of kind ``call`` (the Telegram parsers store a call as a service message with
action ``call``; a WhatsApp call row is a call and nothing else, so it is its own kind, with action
``call`` for readers that look at actions) in the chat WhatsApp files it under: the group
(``ZGROUPJIDSTRING``), else the one other party's JID, as ``whatsapp_ios_read`` keys one-to-one chats,
so a person's calls and messages share one chat. A call with several other parties and no group
(an ad-hoc group call) is filed under a placeholder chat of its own, ``whatsapp:call-<Z_PK>@...``,
documented like ``lost_chat``; never under one participant picked at random.

Joinable (call-link) and upcoming (scheduled) call tables are counted; their rows are named as
skipped, not read, when any exist.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from tessera.messaging.base import PARSERS, ParseContext, file_context
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.whatsapp_db_common import (
    PLATFORM,
    SQLITE_MAGIC,
    Owner,
    account_jid,
    base_name,
    chat_kind,
    col,
    columns,
    is_user_jid,
    open_evidence_db,
    owner_record,
    phone_of,
    quick_check,
    require,
    tables,
)
from tessera.messaging.whatsapp_ios_read import core_time, store_version

__all__ = ["REQUIRED", "WhatsAppIOSCallsParser", "parse_file"]

CALLS, AGGREGATES, PARTICIPANTS = "ZWACDCALLEVENT", "ZWAAGGREGATECALLEVENT", "ZWACDCALLEVENTPARTICIPANT"
#: What the parser cannot do without; every other table and column is optional.
REQUIRED: dict[str, tuple[str, ...]] = {CALLS: ("Z_PK", "ZDATE")}
#: Tables of calls not read yet: counted, and their rows named as skipped.
UNREAD = {
    "ZWAJOINABLECALLEVENT": "joinable (call link) call events are not read yet",
    "ZWAJOINABLECALLEVENTPARTICIPANT": "participants of joinable call events are not read yet",
    "ZWAUPCOMINGCALLEVENT": "upcoming (scheduled) call events are not read yet",
}
IGNORE_AGGREGATE = "aggregate of call events (its direction, video and missed flags are read into each call)"


def _link(have: set[str], suffix: str) -> str | None:
    """Core Data names a to-one link ``Z<entity number><RELATIONSHIP>``: the number depends on the
    model, so the column is found by its pattern rather than assumed to be ``Z1...``."""
    found = sorted(c for c in have if re.fullmatch(rf"Z\d+{suffix}", c))
    return found[0] if found else None


def find_owner(ctx: ParseContext, rows: list[dict[str, Any]]) -> tuple[Owner, str | None]:
    """``options["owner"]`` first (as ``whatsapp_ios.find_owner``); else the starter
    (``ZGROUPCALLCREATORUSERJIDSTRING``) of the calls the aggregates mark outgoing (``ZINCOMING`` 0),
    a value the database states, used only when every such call names the same phone JID; else the
    placeholder ``whatsapp:owner@<device>``."""
    given = ctx.options.get("owner", "").strip()
    if given:
        if "@" in given:
            return Owner(account_jid(given), True), "owner: given by the examiner"
        digits = re.sub(r"\D", "", given)
        if digits:
            return Owner(digits + "@s.whatsapp.net", True), "owner: given by the examiner"
    starters: dict[str, int] = {}
    for r in rows:
        if r["incoming"] == 0 and r["creator"]:
            starters.setdefault(account_jid(r["creator"]), r["pk"])
    placeholder = Owner(f"whatsapp:owner@{ctx.device_id or 'device'}", False)
    if len(starters) == 1:
        ((jid, pk),) = starters.items()
        if jid.endswith("@s.whatsapp.net"):
            n = sum(1 for r in rows if r["incoming"] == 0 and r["creator"])
            return (
                Owner(jid, True, None, f"{ctx.locator}#{CALLS}/{pk}"),
                f"owner: {jid}, the starter of all {n} outgoing calls that name one",
            )
    if len(starters) > 1:
        return placeholder, "owner: outgoing calls name several starters; owner not inferred"
    return placeholder, None


def _rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every call row with its aggregate's flags (LEFT JOIN: a call whose aggregate is gone is
    still a call). A call log is small: read whole, so the owner is known before the first record."""
    cc = columns(conn, CALLS)
    have = tables(conn)
    ac = columns(conn, AGGREGATES) if AGGREGATES in have else set()
    link = _link(cc, "CALLEVENTS")
    join = f"LEFT JOIN {AGGREGATES} a ON a.Z_PK = e.{link}" if link and "Z_PK" in ac else ""
    if not join:
        ac = set()
    sql = (
        f"SELECT e.Z_PK, e.ZDATE, {col(cc, 'e', 'ZDURATION')}, {col(cc, 'e', 'ZOUTCOME')}, "
        f"{col(cc, 'e', 'ZGROUPCALLCREATORUSERJIDSTRING')}, {col(cc, 'e', 'ZGROUPJIDSTRING')}, "
        f"{col(cc, 'e', 'ZCALLIDSTRING')}, {col(cc, 'e', 'ZBYTESSENT')}, {col(cc, 'e', 'ZBYTESRECEIVED')}, "
        f"{f'e.{link}' if link else 'NULL'}, {col(ac, 'a', 'Z_PK')}, {col(ac, 'a', 'ZINCOMING')}, "
        f"{col(ac, 'a', 'ZVIDEO')}, {col(ac, 'a', 'ZMISSED')}, {col(ac, 'a', 'ZMISSEDREASON')} "
        f"FROM {CALLS} e {join} ORDER BY e.Z_PK"
    )
    keys = (
        "pk", "date", "duration", "outcome", "creator", "group", "call_id", "bytes_sent",
        "bytes_received", "aggregate_link", "aggregate", "incoming", "video", "missed", "missed_reason",
    )  # fmt: skip
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(sql)]


def _participants(
    conn: sqlite3.Connection, ctx: ParseContext, calls: set[int]
) -> dict[int, list[dict[str, Any]]]:
    """Participants by call Z_PK; each row parsed with its call, or skipped with the reason."""
    cov, loc = ctx.coverage, ctx.locator
    if PARTICIPANTS not in tables(conn):
        cov.note(f"{PARTICIPANTS}: table absent; calls name only their starter")
        return {}
    pc = columns(conn, PARTICIPANTS)
    link = _link(pc, "PARTICIPANTS")
    cov.holds(PARTICIPANTS, conn.execute(f"SELECT COUNT(*) FROM {PARTICIPANTS}").fetchone()[0])
    sql = (
        f"SELECT Z_PK, {link or 'NULL'}, {col(pc, 'p', 'ZJIDSTRING')}, {col(pc, 'p', 'ZOUTCOME')} "
        f"FROM {PARTICIPANTS} p ORDER BY Z_PK"
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for pk, call, jid, outcome in conn.execute(sql):
        where = f"{loc}#{PARTICIPANTS}/{pk}"
        if not jid:
            cov.skip(PARTICIPANTS, "no ZJIDSTRING", where)
        elif call not in calls:
            cov.skip(PARTICIPANTS, "its call event is gone", where)
        else:
            out.setdefault(call, []).append({"pk": pk, "jid": jid, "outcome": outcome, "locator": where})
            cov.parsed(PARTICIPANTS)
    return out


def _aggregates(conn: sqlite3.Connection, ctx: ParseContext, used: set[int]) -> None:
    """Aggregates are summaries: ignored when a call points at them, skipped when none does (calls
    the app listed whose rows are gone)."""
    if AGGREGATES not in tables(conn):
        return
    cov = ctx.coverage
    pks = [r[0] for r in conn.execute(f"SELECT Z_PK FROM {AGGREGATES} ORDER BY Z_PK")]
    cov.holds(AGGREGATES, len(pks))
    for pk in pks:
        where = f"{ctx.locator}#{AGGREGATES}/{pk}"
        if pk in used:
            cov.ignore(AGGREGATES, IGNORE_AGGREGATE, where)
        else:
            cov.skip(AGGREGATES, "no call event points at this aggregate (its calls' rows are gone)", where)


def read_callhistory(conn: sqlite3.Connection, ctx: ParseContext, name: str) -> Iterator[MessagingRecord]:
    require(conn, REQUIRED, name, "a WhatsApp for iOS CallHistory database")
    cov, loc = ctx.coverage, ctx.locator
    cov.note(store_version(conn))
    have = tables(conn)
    rows = _rows(conn)
    cov.holds(CALLS, len(rows))
    parts = _participants(conn, ctx, {r["pk"] for r in rows})
    _aggregates(conn, ctx, {r["aggregate"] for r in rows if r["aggregate"] is not None})
    for table, why in UNREAD.items():
        if table in have:
            n = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            cov.holds(table, n)
            if n:
                cov.skip(table, why, f"{loc}#{table}", n)
    owner, note = find_owner(ctx, rows)
    if note:
        cov.note(note)

    accounts: dict[str, str] = {}  # account JID -> first locator
    chats: dict[str, str] = {}  # chat key -> kind
    messages: list[MessageRecord] = []
    for r in rows:
        msg = _call(r, parts.get(r["pk"], []), ctx, owner, accounts, chats)
        if msg is not None:
            messages.append(msg)
    yield owner_record(owner, None, loc)
    for acc, where in accounts.items():
        if acc != owner.raw_id:
            yield AccountRecord(PLATFORM, acc, phone=phone_of(acc), locator=where)
    for key, kind in chats.items():
        yield ChatRecord(PLATFORM, key, kind=kind, locator=None)
    yield from messages


def _call(
    r: dict[str, Any],
    parts: list[dict[str, Any]],
    ctx: ParseContext,
    owner: Owner,
    accounts: dict[str, str],
    chats: dict[str, str],
) -> MessageRecord | None:
    cov, pk = ctx.coverage, r["pk"]
    where = f"{ctx.locator}#{CALLS}/{pk}"
    time = core_time(r["date"])
    if time is None:
        cov.skip(CALLS, "no date (ZDATE empty or invalid)", where)
        return None
    # Accounts by user JID; an @lid id is an account of its own, never made into a number.
    creator = account_jid(r["creator"]) if r["creator"] else None
    others: list[str] = []
    for p in parts:
        jid = account_jid(p["jid"])
        if is_user_jid(jid):
            accounts.setdefault(jid, p["locator"])
        if jid != owner.raw_id and jid not in others:
            others.append(jid)
    if creator and is_user_jid(creator):
        accounts.setdefault(creator, where)
        if creator != owner.raw_id and creator not in others and r["incoming"] != 0:
            others.insert(0, creator)  # the caller of an incoming call is the other party
    incoming = r["incoming"]
    if incoming is None and creator and owner.real:
        incoming = int(creator != owner.raw_id)  # no aggregate: the starter says the direction
    group = account_jid(r["group"]) if r["group"] else None
    if group:
        chat, kind = group, chat_kind(group)
    elif len(others) == 1:
        chat, kind = others[0], "private"
    elif others:
        chat, kind = f"whatsapp:call-{pk}@{ctx.device_id or 'device'}{ctx.locator}", "group"
        cov.note(
            f"{CALLS}: calls with several parties and no group are filed under 'whatsapp:call-<Z_PK>@...'"
        )
    else:
        cov.skip(CALLS, "no other party (no participant, no group, starter is the owner or absent)", where)
        return None
    chats.setdefault(chat, kind)
    sender = owner.raw_id if incoming == 0 else (creator or (others[0] if len(others) == 1 else None))
    raw: dict[str, Any] = {
        "Z_PK": pk,
        "duration": r["duration"],
        "video": bool(r["video"]) if r["video"] is not None else None,
        "outcome": r["outcome"],
        "incoming": incoming,
        "missed": r["missed"],
        "participants": [{"jid": p["jid"], "outcome": p["outcome"], "Z_PK": p["pk"]} for p in parts],
    }
    for key in ("missed_reason", "creator", "group", "bytes_sent", "bytes_received", "aggregate"):
        if r[key] is not None:
            raw[key] = r[key]
    if r["aggregate_link"] is not None and r["aggregate"] is None:
        raw["aggregate_link"] = r["aggregate_link"]  # its aggregate row is gone: direction unknown
    cov.parsed(CALLS)
    return MessageRecord(
        PLATFORM,
        chat,
        sender,
        time,
        kind="call",
        raw_id=r["call_id"],
        action="video_call" if r["video"] else "call",
        targets=[o for o in (owner.raw_id, *others) if o != sender],  # the other parties, owner included
        from_me=incoming == 0,
        locator=where,
        raw=raw,
    )


class WhatsAppIOSCallsParser:
    """Options: ``owner`` (the device owner's number or JID), ``integrity`` = ``skip``."""

    name: ClassVar[str] = "whatsapp-ios-calls"
    patterns: ClassVar[tuple[str, ...]] = ("CallHistory*", "*.sqlite", "*.db")
    companions: ClassVar[tuple[str, ...]] = ("{name}-wal",)
    media_roots: ClassVar[tuple[str, ...]] = ()

    def detect(self, locator: str, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        # iOS's own call log is CallHistory.storedata: the name alone is WhatsApp's; a renamed copy
        # is recognised by its tables, whose CREATE text sits in the first pages.
        return base_name(locator).lower() == "callhistory.sqlite" or (
            b"ZWACDCALLEVENT" in head and b"ZWAAGGREGATECALLEVENT" in head
        )

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        name = base_name(ctx.locator)
        try:
            with open_evidence_db(ctx.opener, name, ctx.sibling, ctx.scratch) as conn:
                if ctx.options.get("integrity") != "skip":
                    quick_check(conn, name)
                # Read whole before yielding: a ParseError (missing table) leaves nothing stored.
                yield from list(read_callhistory(conn, ctx, name))
        except OSError as exc:
            raise ParseError(f"{name}: cannot read: {exc}") from exc


PARSERS.register(WhatsAppIOSCallsParser.name)(WhatsAppIOSCallsParser())


def parse_file(
    path: str | Path,
    *,
    scratch: Path | None = None,
    owner: str | None = None,
    device_id: str | None = None,
    coverage: Coverage | None = None,
) -> Iterator[MessagingRecord]:
    """Parse a ``CallHistory.sqlite`` on the examiner's file system (its ``-wal`` found beside it)."""
    options = {"owner": owner} if owner else {}
    ctx = file_context(path, scratch=scratch, device_id=device_id, options=options, coverage=coverage)
    return WhatsAppIOSCallsParser().parse(ctx)
