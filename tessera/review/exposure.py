"""Each reviewer's exposure, metered: reveals, seconds a clear picture was on screen, items seen.

The browser reports how long a revealed picture stayed on screen (``static/exposure.js``); the server
never trusts that figure alone: each report is clamped to what can be true (not negative, not more than
the wall-clock time since the audited reveal, less what was already counted for it), and the raw claim
is kept beside the counted value. Reveal counts come from the server's own record of ``/api/reveal``,
so they are exact whatever the browser does.

The daily budget (a case setting, UTC days) first warns, then asks for a break: see :func:`status`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tessera.audit import append
from tessera.store import models as m
from tessera.store.models_series import ExposureBreak, ExposureEvent, ExposureSeen, ExposureSession

#: Defaults of the case settings ``exposure_budget_seconds`` (revealed seconds per reviewer and UTC
#: day), ``exposure_budget_reveals`` (0: no count budget) and ``exposure_break_after`` (the share of the
#: budget at which a break is asked for; after a dismissal, the same margin again).
BUDGET_SECONDS = 1800
BUDGET_REVEALS = 0
BREAK_AFTER = 1.25
#: One report never counts more than this (a tab left open over a weekend is not an hour of looking).
MAX_REPORT_SECONDS = 600.0


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def today(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone=True columns; they were written as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _bump(
    session: Session, key: str, user: str, seen: int = 0, reveals: int = 0, seconds: float = 0.0
) -> None:
    """Add to a session's counters in SQL (``x = x + n``): thumbnails of one page arrive in parallel, and
    a read-modify-write in Python would lose counts between concurrent requests."""
    if session.get(ExposureSession, key) is None:
        try:
            with session.begin_nested():
                session.add(
                    ExposureSession(session_key=key, user=user, items_seen=0, reveals=0, revealed_seconds=0.0)
                )
        except IntegrityError:  # another request of this session made it first
            pass
    S = ExposureSession
    session.execute(
        update(S)
        .where(S.session_key == key)
        .values(
            items_seen=S.items_seen + seen,
            reveals=S.reveals + reveals,
            revealed_seconds=S.revealed_seconds + seconds,
            last_at=datetime.now(UTC),
        )
    )


def note_reveal(session: Session, token: str, user: str, sha256: str) -> ExposureEvent:
    """Called by the (audited) reveal: one event, counted in the session at once."""
    key = session_key(token)
    _bump(session, key, user, reveals=1)
    event = ExposureEvent(
        user=user, session_key=key, sha256=sha256, day=today(), seconds=0.0, reports=0, claimed=0.0
    )
    session.add(event)
    session.flush()
    return event


def note_seen(session: Session, token: str, user: str, sha256: str) -> bool:
    """A thumbnail reached this session's browser; True when it is the first time in the session."""
    key = session_key(token)
    if session.get(ExposureSeen, (key, sha256)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ExposureSeen(session_key=key, sha256=sha256))
    except IntegrityError:  # the same thumbnail requested twice at once: counted by the other request
        return False
    _bump(session, key, user, seen=1)
    return True


def report_seconds(session: Session, token: str, sha256: str, seconds: float) -> float:
    """Add a browser report to the session's latest reveal of ``sha256``; returns what was counted."""
    key = session_key(token)
    event = session.scalar(
        select(ExposureEvent)
        .where(ExposureEvent.session_key == key, ExposureEvent.sha256 == sha256)
        .order_by(ExposureEvent.id.desc())
        .limit(1)
        .with_for_update()  # a heartbeat and a pagehide report for one reveal must not both use its room
    )
    if event is None:
        return 0.0
    claimed = seconds if seconds == seconds else 0.0  # NaN counts as nothing
    elapsed = (datetime.now(UTC) - _aware(event.revealed_at)).total_seconds()
    room = max(0.0, elapsed - event.seconds)
    counted = max(0.0, min(claimed, MAX_REPORT_SECONDS, room))
    event.seconds += counted
    event.reports += 1
    event.claimed += max(0.0, min(claimed, 1e9))
    _bump(session, key, event.user, seconds=counted)
    return counted


def _settings(session: Session) -> dict[str, Any]:
    case = session.scalar(select(m.Case).limit(1))
    return dict(case.settings or {}) if case is not None else {}


def budget(session: Session) -> dict[str, float]:
    s = _settings(session)
    return {
        "seconds": float(s.get("exposure_budget_seconds", BUDGET_SECONDS)),
        "reveals": float(s.get("exposure_budget_reveals", BUDGET_REVEALS)),
        "break_after": float(s.get("exposure_break_after", BREAK_AFTER)),
    }


def set_budget(session: Session, user: str, seconds: int, reveals: int, break_after: float) -> None:
    case = session.scalar(select(m.Case).limit(1))
    if case is None:
        raise LookupError("no case")
    values = {
        "exposure_budget_seconds": seconds,
        "exposure_budget_reveals": reveals,
        "exposure_break_after": break_after,
    }
    case.settings = {**(case.settings or {}), **values}
    append(session, user, "exposure-budget", "case", values)


@dataclass
class Status:
    user: str
    day: str
    reveals: int
    seconds: float
    budget_seconds: float
    budget_reveals: float
    #: Share of the budget used (the larger of seconds and reveals where both are budgeted).
    ratio: float
    #: ok | warn (budget crossed) | break (a break is asked for)
    level: str
    next_break: float
    session_items_seen: int = 0
    session_reveals: int = 0
    session_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def daily(session: Session, user: str, day: str) -> tuple[int, float]:
    n, secs = session.execute(
        select(func.count(), func.coalesce(func.sum(ExposureEvent.seconds), 0.0)).where(
            ExposureEvent.user == user, ExposureEvent.day == day
        )
    ).one()
    return int(n), float(secs)


def status(session: Session, user: str, token: str | None = None, day: str | None = None) -> Status:
    """Where ``user`` stands today: the budget warns once crossed (ratio >= 1) and asks for a break at
    ``break_after`` × budget; a dismissed break is asked again one margin (break_after - 1) later."""
    day = day or today()
    reveals, seconds = daily(session, user, day)
    b = budget(session)
    parts = [seconds / b["seconds"] if b["seconds"] > 0 else 0.0]
    if b["reveals"] > 0:
        parts.append(reveals / b["reveals"])
    ratio = max(parts)
    margin = max(0.0, b["break_after"] - 1.0)
    last = session.scalar(
        select(func.max(ExposureBreak.at_ratio)).where(ExposureBreak.user == user, ExposureBreak.day == day)
    )
    next_break = b["break_after"] if last is None else float(last) + max(margin, 0.05)
    level = "break" if ratio >= next_break else "warn" if ratio >= 1.0 else "ok"
    st = Status(user, day, reveals, round(seconds, 3), b["seconds"], b["reveals"], ratio, level, next_break)
    if token:
        row = session.get(ExposureSession, session_key(token))
        if row is not None:
            st.session_items_seen = row.items_seen
            st.session_reveals = row.reveals
            st.session_seconds = round(row.revealed_seconds, 3)
    return st


def dismiss_break(session: Session, user: str) -> Status:
    st = status(session, user)
    session.add(ExposureBreak(user=user, day=st.day, at_ratio=st.ratio))
    append(session, user, "exposure-break-dismissed", user, {"day": st.day, "ratio": round(st.ratio, 4)})
    session.flush()
    return status(session, user)


def everyone(session: Session, day: str) -> list[dict[str, Any]]:
    """Per reviewer: today's figures and their sessions' totals (the supervisor's page)."""
    users = sorted(
        set(session.scalars(select(ExposureEvent.user).where(ExposureEvent.day == day)))
        | set(session.scalars(select(ExposureSession.user)))
    )
    out = []
    for user in users:
        st = status(session, user, day=day)
        agg = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ExposureSession.items_seen), 0),
                func.coalesce(func.max(ExposureSession.items_seen), 0),
            ).where(ExposureSession.user == user)
        ).one()
        breaks = session.scalar(
            select(func.count()).where(ExposureBreak.user == user, ExposureBreak.day == day)
        )
        out.append(
            {**st.as_dict(), "sessions": agg[0], "items_seen": agg[1], "max_seen": agg[2], "breaks": breaks}
        )
    return out


def never_shown(session: Session) -> dict[str, Any]:
    """Images and videos categorised without anyone looking: by a hash set, or by a decision on their
    near-duplicate cluster, and never revealed. Blurred grid thumbnails do not count as shown."""
    from tessera.review import data

    pictures = (m.Media.kind.in_(("image", "video")),)
    total = session.scalar(select(func.count()).select_from(m.Media).where(*pictures)) or 0
    revealed = select(ExposureEvent.sha256)
    audited = select(m.AuditEntry.subject).where(m.AuditEntry.action == "reveal")
    individually = select(m.Decision.sha256).where(m.Decision.cluster_id.is_(None))
    by_cluster = select(m.Decision.sha256).where(m.Decision.cluster_id.is_not(None))
    base = (
        select(func.count())
        .select_from(m.Media)
        .where(*pictures, ~m.Media.sha256.in_(revealed), ~m.Media.sha256.in_(audited))
    )
    hashset = session.scalar(base.where(data._categorised_by_hashset())) or 0
    cluster = (
        session.scalar(
            base.where(
                ~data._categorised_by_hashset(),
                m.Media.sha256.in_(by_cluster),
                ~m.Media.sha256.in_(individually),
            )
        )
        or 0
    )
    auto = hashset + cluster
    return {
        "total": total,
        "hashset": hashset,
        "cluster": cluster,
        "auto": auto,
        "share": (auto / total) if total else 0.0,
    }
