"""One case timeline: posts and messages, EXIF captures, file times and suspect events, in time order.

A case holds millions of events, so nothing here builds the whole list: every source is read in
keyset-ordered batches (``(time, id) > last``) and the sources are merged lazily (``heapq.merge``). The
same keyset gives the workstation its pages: a cursor names the last event shown, and the next page
starts strictly after it, however many events share a timestamp.

Every event names where it comes from: a message (device + locator), a file (device + locator), the
device record (seizure date) or an audit-log entry (suspect status). Times keep their raw value next to
the normalised one, and ``time_basis`` says what the normalised time is: ``utc`` (messages, file times,
audit entries), ``camera-local`` (EXIF DateTimeOriginal carries no zone: ordered as if it were UTC) or
``date`` (a seizure date without a time: midnight UTC).
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from tessera.store import models as m
from tessera.store.models_items import ItemMember

#: Columns of the CSV export, in order (JSON carries the same keys).
COLUMNS = (
    "time",
    "time_basis",
    "kind",
    "device",
    "account",
    "group",
    "sha256",
    "item",
    "source",
    "locator",
    "detail",
    "raw_time",
    "ref",
)
#: Event kinds, and their order when two events share a time (the tie-break is the rank, then the id).
KINDS = ("seizure", "suspect", "capture", "file-created", "file-modified", "post", "message")
#: Files whose times are events: pictures and videos (a phone's thousands of system files would bury them).
PICTURE_KINDS = ("image", "video")
BATCH = 2000
_EXIF_TIME = re.compile(r"^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)")


def iso(dt: datetime) -> str:
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def exif_datetime(value: str | None) -> datetime | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` as a naive-as-UTC datetime; None for blanks like ``0000:00:00``."""
    hit = _EXIF_TIME.match(value or "")
    if not hit:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g) for g in hit.groups())
        return datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
    except ValueError:
        return None


def parse_time(value: str | None) -> datetime | None:
    """A ``--since``/``--until`` or seizure date: ISO date or date-time; without a zone, UTC."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_until(value: str | None) -> datetime | None:
    """An inclusive upper bound: a bare date means the whole of that day."""
    t = parse_time(value)
    if t is not None and value is not None and len(value.strip()) <= 10:
        t = t + timedelta(days=1, microseconds=-1)
    return t


@dataclass
class Filters:
    """What to keep. Events that cannot carry a dimension are left out when it is filtered on: an
    account filter keeps that account's messages and the seizures and status of its suspects; a group
    filter keeps that group's messages; an item filter keeps posts, captures and file times of its
    pictures."""

    account: int | None = None
    device: str | None = None
    #: The SHA-256 set of an item (its members) or of one picture; None: no item filter.
    sha256s: frozenset[str] | None = None
    group: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    kinds: frozenset[str] = frozenset(KINDS)


@dataclass(frozen=True)
class Cursor:
    """The last event shown: its order key and its time as stored (so its own source resumes exactly)."""

    ts: float
    rank: int
    id: int
    native: str

    def encode(self) -> str:
        return f"{self.ts!r}|{self.rank}|{self.id}|{self.native}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        try:
            ts, rank, ident, native = text.split("|", 3)
            return cls(float(ts), int(rank), int(ident), native)
        except ValueError:
            return None


@dataclass
class Counters:
    """What a stream left out, so nothing is dropped silently."""

    unreadable_capture_times: int = 0
    unreadable_seizure_dates: int = 0
    extra: dict[str, int] = field(default_factory=dict)


Event = dict[str, Any]
Keyed = tuple[float, int, int, str, Event]


def _resume(col: Any, ident: Any, rank: int, cur: Cursor | None, native: Any, approx: Any) -> list[Any]:
    """SQL conditions that start a source after the cursor: exact keyset on its own source, an
    inclusive time bound on the others (the exact order among equal times is settled in Python)."""
    if cur is None:
        return []
    if rank == cur.rank:
        return [or_(col > native, and_(col == native, ident > cur.id))]
    return [col >= approx]


def _batched(
    session: Session, make: Callable[[Any, int], Any], key: Callable[[Any], Any], batch: int
) -> Iterator[Any]:
    """Rows of ``make(after, limit)`` batch by batch; ``after`` is the keyset of the last row or None."""
    after = None
    while True:
        # Core rows straight from the connection: the ORM's row processing is a third of the cost here.
        rows = session.connection().execute(make(after, batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        after = key(rows[-1])


def _messages(session: Session, f: Filters, cur: Cursor | None, batch: int) -> Iterator[Keyed]:
    rank_post, rank_msg = KINDS.index("post"), KINDS.index("message")
    want_posts, want_text = "post" in f.kinds, "message" in f.kinds
    if not (want_posts or want_text):
        return
    chat, acc = aliased(m.Chat), aliased(m.Account)
    msg = m.Message
    base = (
        select(
            msg.id,
            msg.time,
            msg.device_id,
            msg.locator,
            msg.kind,
            msg.text,
            msg.media_sha256,
            msg.forwarded,
            acc.key,
            chat.title,
            chat.key,
            ItemMember.item_id,
        )
        .join(chat, chat.id == msg.chat_id)
        .outerjoin(acc, acc.id == msg.sender_id)
        .outerjoin(ItemMember, ItemMember.sha256 == msg.media_sha256)
    )
    conds: list[Any] = []
    if not want_posts:
        conds.append(msg.media_sha256.is_(None))
    if not want_text:
        conds.append(msg.media_sha256.is_not(None))
    if f.account is not None:
        conds.append(msg.sender_id == f.account)
    if f.device:
        conds.append(msg.device_id == f.device)
    if f.group is not None:
        conds.append(msg.chat_id == f.group)
    if f.sha256s is not None:
        conds.append(msg.media_sha256.in_(sorted(f.sha256s)))
    if f.since:
        conds.append(msg.time >= f.since)
    if f.until:
        conds.append(msg.time <= f.until)
    if cur is not None:
        # Posts and text messages share one stream ordered by (time, id); its rank is the post's.
        approx = datetime.fromtimestamp(math.floor(cur.ts), UTC)
        if cur.rank in (rank_post, rank_msg):
            native = parse_time(cur.native) or approx
            conds.append(or_(msg.time > native, and_(msg.time == native, msg.id > cur.id)))
        else:
            conds.append(msg.time >= approx)

    def make(after: Any, limit: int) -> Any:
        q = base.where(*conds)
        if after is not None:
            q = q.where(or_(msg.time > after[0], and_(msg.time == after[0], msg.id > after[1])))
        return q.order_by(msg.time, msg.id).limit(limit)

    for row in _batched(session, make, lambda r: (r[1], r[0]), batch):
        mid, time, device, locator, kind, text, sha, fwd, account, title, ckey, item = row
        t = time if time.tzinfo else time.replace(tzinfo=UTC)
        when = iso(t)
        is_post = sha is not None
        detail = ("forwarded " if fwd else "") + ("post" if is_post else kind)
        if text:
            detail += f": {text}"
        ev = {
            "time": when,
            "time_basis": "utc",
            "kind": "post" if is_post else "message",
            "device": device,
            "account": account,
            "group": title or ckey,
            "sha256": sha,
            "item": item,
            "source": "message",
            "locator": locator,
            "detail": detail,
            "raw_time": when,
            "ref": f"message:{mid}",
        }
        # One stream, so one rank for both kinds (the merge needs each stream in key order).
        yield t.timestamp(), rank_post, mid, when, ev


def _file_times(session: Session, f: Filters, cur: Cursor | None, kind: str, batch: int) -> Iterator[Keyed]:
    if kind not in f.kinds or f.account is not None or f.group is not None:
        return
    rank = KINDS.index(kind)
    col = m.File.crtime if kind == "file-created" else m.File.mtime
    base = (
        select(
            m.File.id,
            col,
            m.File.device_id,
            m.File.locator,
            m.File.sha256,
            m.File.deleted,
            ItemMember.item_id,
        )
        .outerjoin(ItemMember, ItemMember.sha256 == m.File.sha256)
        # EXISTS, not a join: the planner then walks the (time, id) index and stops at the page's end
        # (joined, SQLite started from media's kind index and sorted every file first).
        .where(
            col.is_not(None),
            exists().where(m.Media.sha256 == m.File.sha256, m.Media.kind.in_(PICTURE_KINDS)),
        )
    )
    conds: list[Any] = []
    if f.device:
        conds.append(m.File.device_id == f.device)
    if f.sha256s is not None:
        conds.append(m.File.sha256.in_(sorted(f.sha256s)))
    if f.since:
        conds.append(col >= f.since.timestamp())
    if f.until:
        conds.append(col <= f.until.timestamp())
    conds += _resume(
        col,
        m.File.id,
        rank,
        cur,
        float(cur.native) if cur and cur.rank == rank else None,
        float(math.floor(cur.ts)) if cur else None,
    )

    def make(after: Any, limit: int) -> Any:
        q = base.where(*conds)
        if after is not None:
            q = q.where(or_(col > after[0], and_(col == after[0], m.File.id > after[1])))
        return q.order_by(col, m.File.id).limit(limit)

    label = "created" if kind == "file-created" else "modified"
    for fid, value, device, locator, sha, deleted, item in _batched(
        session, make, lambda r: (r[1], r[0]), batch
    ):
        t = datetime.fromtimestamp(value, UTC)
        ev = {
            "time": iso(t),
            "time_basis": "utc",
            "kind": kind,
            "device": device,
            "account": None,
            "group": None,
            "sha256": sha,
            "item": item,
            "source": "file",
            "locator": locator,
            "detail": f"file {label}" + (" (deleted file)" if deleted else ""),
            "raw_time": repr(value),
            "ref": f"file:{fid}",
        }
        yield float(value), rank, fid, repr(value), ev


def _captures(
    session: Session, f: Filters, cur: Cursor | None, counters: Counters, batch: int
) -> Iterator[Keyed]:
    """One event per file holding a picture with an EXIF capture time (the file names the device)."""
    if "capture" not in f.kinds or f.account is not None or f.group is not None:
        return
    rank = KINDS.index("capture")
    col = m.Media.exif_time
    base = (
        select(
            m.File.id,
            col,
            m.File.device_id,
            m.File.locator,
            m.File.sha256,
            m.Media.exif_make,
            m.Media.exif_model,
            m.Media.gps_lat,
            m.Media.gps_lon,
            ItemMember.item_id,
        )
        .join(m.Media, m.Media.sha256 == m.File.sha256)
        .outerjoin(ItemMember, ItemMember.sha256 == m.File.sha256)
        # ">= ''" rather than IS NOT NULL (same rows): a range the planner serves from the exif_time index.
        .where(col >= "")
    )
    fmt = "%Y:%m:%d %H:%M:%S"
    conds: list[Any] = []
    if f.device:
        conds.append(m.File.device_id == f.device)
    if f.sha256s is not None:
        conds.append(m.File.sha256.in_(sorted(f.sha256s)))
    if f.since:
        conds.append(col >= f.since.astimezone(UTC).strftime(fmt))
    if f.until:  # the whole last second: "2020:01:01 10:00:00" <= "2020:01:01 10:00:00.5" as text
        conds.append(col < (f.until.astimezone(UTC).strftime(fmt) + "~"))
    if cur is not None:
        conds += _resume(
            col,
            m.File.id,
            rank,
            cur,
            cur.native,
            datetime.fromtimestamp(math.floor(cur.ts), UTC).strftime(fmt),
        )

    def make(after: Any, limit: int) -> Any:
        q = base.where(*conds)
        if after is not None:
            q = q.where(or_(col > after[0], and_(col == after[0], m.File.id > after[1])))
        return q.order_by(col, m.File.id).limit(limit)

    for fid, raw, device, locator, sha, make_, model, lat, lon, item in _batched(
        session, make, lambda r: (r[1], r[0]), batch
    ):
        t = exif_datetime(raw)
        if t is None:  # "0000:00:00 00:00:00" and the like: not a time; counted, not invented
            counters.unreadable_capture_times += 1
            continue
        camera = " ".join(x for x in (make_, model) if x) or "unknown camera"
        where = f" at {lat}, {lon}" if lat is not None and lon is not None else ""
        ev = {
            "time": t.strftime("%Y-%m-%dT%H:%M:%S"),
            "time_basis": "camera-local",
            "kind": "capture",
            "device": device,
            "account": None,
            "group": None,
            "sha256": sha,
            "item": item,
            "source": "file",
            "locator": locator,
            "detail": f"taken with {camera}{where} (EXIF DateTimeOriginal)",
            "raw_time": raw,
            "ref": f"file:{fid}",
        }
        yield t.timestamp(), rank, fid, raw, ev


def _small(session: Session, f: Filters, counters: Counters) -> list[Keyed]:
    """Seizures and suspect status changes: a handful per case, read whole and sorted here."""
    if f.group is not None or f.sha256s is not None:
        return []
    suspects: set[str] | None = None
    if f.account is not None:
        suspects = set(
            session.scalars(
                select(m.SuspectAccount.suspect_id).where(m.SuspectAccount.account_id == f.account)
            )
        )
    out: list[Keyed] = []
    device_suspect = {d: sus for d, sus in session.execute(select(m.Device.id, m.Device.suspect))}
    if "seizure" in f.kinds:
        rank = KINDS.index("seizure")
        for n, dev in enumerate(
            session.scalars(select(m.Device).where(m.Device.seizure_date.is_not(None)).order_by(m.Device.id))
        ):
            if (f.device and dev.id != f.device) or (suspects is not None and dev.suspect not in suspects):
                continue
            t = parse_time(dev.seizure_date)
            if t is None:
                counters.unreadable_seizure_dates += 1
                continue
            date_only = len((dev.seizure_date or "").strip()) <= 10
            ev = {
                "time": iso(t),
                "time_basis": "date" if date_only else "utc",
                "kind": "seizure",
                "device": dev.id,
                "account": None,
                "group": None,
                "sha256": None,
                "item": None,
                "source": "device",
                "locator": dev.source_path,
                "detail": "device seized" + (f" from suspect {dev.suspect}" if dev.suspect else ""),
                "raw_time": dev.seizure_date,
                "ref": f"device:{dev.id}",
            }
            out.append((t.timestamp(), rank, n, dev.seizure_date or "", ev))
    if "suspect" in f.kinds:
        rank = KINDS.index("suspect")
        q = select(m.AuditEntry).where(
            m.AuditEntry.action.in_(
                ("suspect.add", "suspect.status", "suspect.link_device", "suspect.link_account")
            )
        )
        for e in session.scalars(q.order_by(m.AuditEntry.id)):
            if suspects is not None and e.subject not in suspects:
                continue
            if f.device and device_suspect.get(f.device) != e.subject:
                continue
            t = parse_time(e.at)
            if t is None:
                continue
            ev = {
                "time": iso(t),
                "time_basis": "utc",
                "kind": "suspect",
                "device": None,
                "account": None,
                "group": None,
                "sha256": None,
                "item": None,
                "source": "audit",
                "locator": None,
                "detail": f"{e.action} {e.subject} {e.details} (recorded by {e.user})",
                "raw_time": e.at,
                "ref": f"audit:{e.id}",
            }
            out.append((t.timestamp(), rank, e.id, e.at, ev))
    lo, hi = (f.since.timestamp() if f.since else None), (f.until.timestamp() if f.until else None)
    return sorted(
        (k for k in out if (lo is None or k[0] >= lo) and (hi is None or k[0] <= hi)), key=lambda k: k[:3]
    )


def stream(
    session: Session,
    filters: Filters | None = None,
    after: Cursor | None = None,
    counters: Counters | None = None,
    batch: int = BATCH,
) -> Iterator[tuple[Cursor, Event]]:
    """Every event matching ``filters`` strictly after ``after``, in (time, kind rank, id) order, each
    with the cursor that resumes after it. Lazy: memory stays at one batch per source."""
    f = filters or Filters()
    c = counters if counters is not None else Counters()
    sources: list[Iterator[Keyed]] = [
        iter(_small(session, f, c)),
        _captures(session, f, after, c, batch),
        _file_times(session, f, after, "file-created", batch),
        _file_times(session, f, after, "file-modified", batch),
        _messages(session, f, after, batch),
    ]
    floor = (after.ts, after.rank, after.id) if after else None
    for ts, rank, ident, native, ev in heapq.merge(*sources, key=lambda k: k[:3]):
        if floor is not None and (ts, rank, ident) <= floor:
            continue  # the inclusive bounds of the other sources re-read a few equal times
        yield Cursor(ts, rank, ident, native), ev


def page(
    session: Session, filters: Filters | None, after: Cursor | None, limit: int = 100
) -> tuple[list[Event], Cursor | None]:
    """One page for the workstation and the cursor of the next (None at the end)."""
    out: list[Event] = []
    last: Cursor | None = None
    for cur, ev in stream(session, filters, after, batch=limit + 1):
        if len(out) == limit:
            return out, last
        out.append(ev)
        last = cur
    return out, None
