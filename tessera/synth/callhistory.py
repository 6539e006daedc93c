"""Synthetic WhatsApp for iOS ``CallHistory.sqlite``, the call log beside ``ChatStorage.sqlite``.

``write_callhistory`` writes the Core Data tables of WhatsApp 2.2x as a real iOS 15 database holds
them (columns as in Josh Hickman's public image) and returns the ground truth (``CallTruth``).

Quirks of real databases reproduced: the starter (``ZGROUPCALLCREATORUSERJIDSTRING``) filled on
one-to-one calls too (the owner on outgoing calls), the direction, video and missed flags only on
the aggregate row (``ZWAAGGREGATECALLEVENT``), an aggregate grouping two consecutive calls, a missed
call with duration 0, a group call with a group JID and several participants, an ad-hoc group call
(several participants, no group), an ``@lid`` participant, and empty joinable/upcoming tables.
Optional damage: an aggregate no call points at, a participant whose call is gone.
Everything is invented: numbers and times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tessera.synth.chatstorage import CORE_DATA_EPOCH, START, _fresh, lid_jid, phone_jid

CALLHISTORY_DDL = """
CREATE TABLE ZWAAGGREGATECALLEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZINCOMING INTEGER, ZMISSED INTEGER, ZMISSEDREASON INTEGER, ZVIDEO INTEGER, ZFIRSTDATE TIMESTAMP,
  ZLINKTOKEN VARCHAR );
CREATE TABLE ZWACDCALLEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZBYTESRECEIVED INTEGER,
  ZBYTESSENT INTEGER, ZOUTCOME INTEGER, Z1CALLEVENTS INTEGER, Z_FOK_1CALLEVENTS INTEGER, ZDATE TIMESTAMP,
  ZDURATION FLOAT, ZGROUPCALLCREATORUSERJIDSTRING VARCHAR, ZGROUPJIDSTRING VARCHAR, ZSCHEDULEDID VARCHAR );
CREATE TABLE ZWACDCALLEVENTPARTICIPANT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZOUTCOME INTEGER, Z1PARTICIPANTS INTEGER, Z_FOK_1PARTICIPANTS INTEGER, ZJIDSTRING VARCHAR );
CREATE TABLE ZWAJOINABLECALLEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZBADGEREMOVED INTEGER, ZBYTESRECEIVED INTEGER, ZBYTESSENT INTEGER, ZCURRENTOUTCOME INTEGER,
  ZISRERING INTEGER, ZPREVIOUSOUTCOME INTEGER, ZVIDEO INTEGER, ZDATE TIMESTAMP, ZDURATION FLOAT,
  ZCALLCREATORJIDSTRING VARCHAR, ZCALLIDSTRING VARCHAR, ZCALLRANDOMIDSTRING VARCHAR, ZFROMJIDSTRING VARCHAR,
  ZGROUPJIDSTRING VARCHAR, ZLINKTOKEN VARCHAR, ZSCHEDULEDID VARCHAR );
CREATE TABLE ZWAJOINABLECALLEVENTPARTICIPANT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZJOINED INTEGER, Z4PARTICIPANTS INTEGER, Z_FOK_4PARTICIPANTS INTEGER, ZJIDSTRING VARCHAR );
CREATE TABLE ZWAUPCOMINGCALLEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCALLTYPE INTEGER,
  ZISSYSTEMMESSAGEINSERTED INTEGER, ZSTATUS INTEGER, ZUNIXTIMEMS INTEGER, ZCHATJIDSTRING VARCHAR,
  ZCREATORJIDSTRING VARCHAR, ZMESSAGESTANZAID VARCHAR, ZTITLE VARCHAR );
CREATE INDEX ZWACDCALLEVENT_Z1CALLEVENTS_INDEX ON ZWACDCALLEVENT (Z1CALLEVENTS);
CREATE INDEX ZWACDCALLEVENTPARTICIPANT_Z1PARTICIPANTS_INDEX ON ZWACDCALLEVENTPARTICIPANT (Z1PARTICIPANTS);
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE Z_MODELCACHE (Z_CONTENT BLOB);
"""


@dataclass
class Call:
    """One call as a reader must give it back."""

    pk: int
    chat: str  # the group JID, the one other party, or "" for an ad-hoc group call
    sender: str
    time: float  # Unix seconds
    incoming: bool
    video: bool
    missed: bool
    duration: float
    participants: list[str]


@dataclass
class CallTruth:
    path: Path
    owner: str
    calls: list[Call] = field(default_factory=list)
    aggregates: int = 0
    participants: int = 0
    orphan_aggregates: int = 0
    orphan_participants: int = 0


def write_callhistory(folder: Path, *, owner: str | None = None, damage: bool = False) -> CallTruth:
    """Write ``folder/CallHistory.sqlite``: five calls under four aggregates (see the module text)."""
    owner = owner or phone_jid(1)
    peer, other, third = phone_jid(2), phone_jid(3), lid_jid(4)
    group = "120363000000000001@g.us"
    path = folder / "CallHistory.sqlite"
    truth = CallTruth(path, owner)
    conn = _fresh(path, CALLHISTORY_DDL)
    t0 = START + 3600

    # (incoming, missed, video, [(offset s, duration, starter, group, participants)])
    One = tuple[int, float, str, str | None, list[str]]
    aggregates: list[tuple[bool, bool, bool, list[One]]] = [
        (False, False, False, [(0, 95.5, owner, None, [peer]), (400, 12.25, owner, None, [peer])]),
        (True, True, False, [(900, 0.0, peer, None, [peer])]),  # missed: no duration
        (True, False, True, [(1800, 301.0, other, group, [other, third, owner])]),  # group video call
        (False, False, False, [(2700, 60.0, owner, None, [peer, other])]),  # ad-hoc group call
    ]
    call_pk = part_pk = 0
    for agg_pk, (incoming, missed, video, calls) in enumerate(aggregates, 1):
        conn.execute(
            "INSERT INTO ZWAAGGREGATECALLEVENT VALUES (?, 1, 1, ?, ?, 1, ?, ?, NULL)",
            (agg_pk, int(incoming), int(missed), int(video), t0 + calls[0][0]),
        )
        for offset, duration, starter, grp, parts in calls:
            call_pk += 1
            conn.execute(
                "INSERT INTO ZWACDCALLEVENT VALUES (?, 2, 1, ?, ?, ?, ?, 2048, ?, ?, ?, ?, NULL)",
                (call_pk, 1000 * call_pk, 900 * call_pk, 1 if missed else 0, agg_pk, t0 + offset, duration,
                 starter, grp),
            )  # fmt: skip
            for jid in parts:
                part_pk += 1
                conn.execute(
                    "INSERT INTO ZWACDCALLEVENTPARTICIPANT VALUES (?, 3, 1, 0, ?, 2048, ?)",
                    (part_pk, call_pk, jid),
                )
            others = [p for p in parts if p != owner]
            chat = grp or (others[0] if len(others) == 1 else "")
            truth.calls.append(
                Call(call_pk, chat, starter if incoming else owner, t0 + offset + CORE_DATA_EPOCH,
                     incoming, video, missed, duration, parts)
            )  # fmt: skip
    truth.aggregates, truth.participants = len(aggregates), part_pk
    if damage:
        conn.execute("INSERT INTO ZWAAGGREGATECALLEVENT VALUES (99, 1, 1, 1, 1, 1, 0, ?, NULL)", (t0 + 5000,))
        conn.execute("INSERT INTO ZWACDCALLEVENTPARTICIPANT VALUES (99, 3, 1, 0, 77, 2048, ?)", (peer,))
        truth.aggregates += 1
        truth.participants += 1
        truth.orphan_aggregates = truth.orphan_participants = 1
    names = ["WAAggregateCallEvent", "WACDCallEvent", "WACDCallEventParticipant", "WAJoinableCallEvent",
             "WAJoinableCallEventParticipant", "WAUpcomingCallEvent"]  # fmt: skip
    maxes = [truth.aggregates, call_pk, truth.participants, 0, 0, 0]
    conn.executemany(
        "INSERT INTO Z_PRIMARYKEY VALUES (?, ?, 0, ?)",
        [(i, n, m) for i, (n, m) in enumerate(zip(names, maxes, strict=True), 1)],
    )
    conn.commit()
    conn.close()
    return truth
