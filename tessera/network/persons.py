"""One person across platforms and devices: accounts that share a phone number, linked with evidence.

WhatsApp accounts are keyed by their E.164 number, so one number is already one WhatsApp account
whether WhatsApp for Android, for iOS or WhatsApp Business shows it. Across platforms it is not: a
Telegram account is keyed by its user id and carries the number only where the source states it (the
export's own ``personal_information``, a saved contact). Here the accounts that share a number become
one *person*; the accounts themselves stay as they are, one per platform and identifier.

The rule (``same-phone``) is deliberately narrow, because a wrong link puts two people's messages
under one name:

- only numbers stored as E.164 with ``phone_valid`` true: E.164 is only ever stored from international
  digits the source wrote (``tessera.messaging.identity``), never completed from a national form; a
  number that fails today's numbering plan (``phone_valid`` false) is not linked, and a number shared
  by several such accounts is reported as not linked, with the reason;
- never by name, username or anything else;
- each account's number must be traceable to a raw value stored with it (an ``account_alias`` whose
  international digits are that number): the link's evidence lists those values and the sources
  (device, file, parser) that show the account.

Recomputation is whole and idempotent: what the accounts say now decides which persons and links
exist; persons no longer supported are removed, unchanged links are left as they are. On PostgreSQL a
transaction-level advisory lock serialises recomputations (``ingest-batch`` runs devices in threads);
SQLite serialises writers itself.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from tessera.messaging.identity import international_digits
from tessera.store import models as m
from tessera.store.models_person import Person, PersonLink
from tessera.store.writes import chunks, insert_ignore

RULE = "same-phone"
#: How many sources a link's evidence lists (``sources_total`` always says how many there are).
SOURCES_LIMIT = 20
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_LOCK = 0x7E55E2A0  # any constant: the advisory lock of this recomputation on PostgreSQL
_JID = ("@s.whatsapp.net", "@c.us", "@whatsapp.net")


@dataclass
class LinkSummary:
    persons: int = 0
    links: int = 0
    created: int = 0  # links added by this recomputation
    removed: int = 0  # links no longer supported
    #: Numbers several accounts share that were not linked, each with the reason.
    not_linked: list[dict[str, Any]] = field(default_factory=list)


def _form(raw: str) -> str:
    if raw.endswith(_JID):
        return "WhatsApp JID (its user part is the international number)"
    return "number as written (international form)"


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})


def _linkable() -> Any:
    """The accounts the rule may link: a valid number that another valid account also carries. One
    query with a subquery rather than lists of ids: a case of 100,000 accounts costs a few queries."""
    shared = (
        select(m.Account.phone)
        .where(m.Account.phone_valid.is_(True), m.Account.phone.is_not(None))
        .group_by(m.Account.phone)
        .having(func.count() >= 2)
    )
    return m.Account.phone_valid.is_(True) & m.Account.phone.in_(shared)


def _raw_values(session: Session, phones: dict[int, str]) -> dict[int, list[dict[str, str]]]:
    """account id -> the stored raw identifiers whose international digits are its number."""
    out: dict[int, list[dict[str, str]]] = defaultdict(list)
    rows = session.execute(
        select(m.AccountAlias.account_id, m.AccountAlias.raw_id)
        .join(m.Account, m.Account.id == m.AccountAlias.account_id)
        .where(_linkable())
    )
    for acc_id, raw in rows:
        if acc_id not in phones:
            continue
        # The same reading of international digits the number was stored from (and only that: a
        # national form gives none); its validity is the account's ``phone_valid``.
        digits = international_digits(raw)
        if digits is not None and "+" + digits == phones[acc_id]:
            out[acc_id].append({"value": raw, "form": _form(raw)})
    for values in out.values():
        values.sort(key=lambda v: v["value"])
    return out


def _sources(session: Session) -> dict[int, list[dict[str, str]]]:
    """account id -> the messaging sources that show it (device, file, parser), sorted."""
    out: dict[int, set[tuple[str, str, str]]] = defaultdict(set)
    rows = session.execute(
        select(
            m.Sighting.entity_id,
            m.MessagingSource.device_id,
            m.MessagingSource.locator,
            m.MessagingSource.parser,
        )
        .join(m.MessagingSource, m.MessagingSource.id == m.Sighting.source_id)
        .join(m.Account, m.Account.id == m.Sighting.entity_id)
        .where(m.Sighting.entity == "account", _linkable())
    )
    for acc_id, device, locator, parser in rows:
        out[acc_id].add((device, locator, parser))
    return {
        a: [{"device": d, "locator": loc, "parser": p} for d, loc, p in sorted(found)]
        for a, found in out.items()
    }


def _wanted(session: Session, summary: LinkSummary) -> dict[str, dict[str, Any]]:
    """person key -> {"phone", "country", "links": {account id: evidence}} as the accounts say now."""
    by_phone: dict[str, list[Any]] = defaultdict(list)
    shared_invalid: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(
            m.Account.id,
            m.Account.platform,
            m.Account.key,
            m.Account.phone,
            m.Account.phone_valid,
            m.Account.country,
        )
        .where(m.Account.phone.is_not(None))
        .order_by(m.Account.id)
    ):
        if row.phone_valid is True and _E164.fullmatch(row.phone or ""):
            by_phone[row.phone].append(row)
        else:
            shared_invalid[row.phone].append(row)
    for phone, rows in sorted(shared_invalid.items()):
        if len(rows) + len(by_phone.get(phone, ())) >= 2:
            reason = "not a valid number by today's numbering plans (phone_valid false)"
            summary.not_linked.append(
                {"phone": phone, "accounts": [f"{r.platform}:{r.key}" for r in rows], "reason": reason}
            )
    groups = {phone: rows for phone, rows in by_phone.items() if len(rows) >= 2}
    phones = {r.id: phone for phone, rows in groups.items() for r in rows}
    raw = _raw_values(session, phones)
    sources = _sources(session)
    wanted: dict[str, dict[str, Any]] = {}
    for phone, rows in sorted(groups.items()):
        traced = [r for r in rows if raw.get(r.id)]
        untraced = [r for r in rows if not raw.get(r.id)]
        if untraced:
            summary.not_linked.append(
                {
                    "phone": phone,
                    "accounts": [f"{r.platform}:{r.key}" for r in untraced],
                    "reason": "no stored raw identifier gives this number",
                }
            )
        if len(traced) < 2:
            continue
        links = {}
        for r in traced:
            seen = sources.get(r.id, [])
            links[r.id] = {
                "field": "account.phone",
                "raw": raw[r.id],
                "sources": seen[:SOURCES_LIMIT],
                "sources_total": len(seen),
            }
        country = next((r.country for r in traced if r.country), None)
        wanted[f"phone:{phone}"] = {"phone": phone, "country": country, "links": links}
    return wanted


def link_persons(session: Session) -> LinkSummary:
    """Recompute every ``same-phone`` person and link from the stored accounts; the caller commits."""
    _lock(session)
    summary = LinkSummary()
    wanted = _wanted(session, summary)
    existing = {k: i for k, i in session.execute(select(Person.key, Person.id).where(Person.rule == RULE))}
    stale = [pid for key, pid in existing.items() if key not in wanted]
    for part in chunks(stale):
        summary.removed += len(
            session.scalars(select(PersonLink.id).where(PersonLink.person_id.in_(part))).all()
        )
        session.execute(delete(PersonLink).where(PersonLink.person_id.in_(part)))
        session.execute(delete(Person).where(Person.id.in_(part)))
    insert_ignore(
        session,
        Person,
        [
            {
                "key": key,
                "rule": RULE,
                "phone": w["phone"],
                "country": w["country"],
                "computed_at": m.utcnow(),
            }
            for key, w in wanted.items()
            if key not in existing
        ],
        ["key"],
    )
    ids = {k: i for k, i in session.execute(select(Person.key, Person.id).where(Person.rule == RULE))}
    have: dict[tuple[int, int], tuple[int, dict[str, Any]]] = {}
    for link_id, pid, aid, ev in session.execute(
        select(PersonLink.id, PersonLink.person_id, PersonLink.account_id, PersonLink.evidence).where(
            PersonLink.rule == RULE
        )
    ):
        have[(pid, aid)] = (link_id, ev)
    want = {(ids[key], aid): (w["phone"], ev) for key, w in wanted.items() for aid, ev in w["links"].items()}
    gone = [have[k][0] for k in have if k not in want]
    for part in chunks(gone):
        session.execute(delete(PersonLink).where(PersonLink.id.in_(part)))
    new = [
        {"person_id": pid, "account_id": aid, "rule": RULE, "phone": phone, "evidence": ev}
        for (pid, aid), (phone, ev) in sorted(want.items())
        if (pid, aid) not in have
    ]
    insert_ignore(session, PersonLink, new, ["person_id", "account_id"])
    for k, (_phone, ev) in want.items():
        if k in have and have[k][1] != ev:  # new sources or raw values since the last recomputation
            session.execute(update(PersonLink).where(PersonLink.id == have[k][0]).values(evidence=ev))
    summary.persons, summary.links = len(wanted), len(want)
    summary.created, summary.removed = len(new), summary.removed + len(gone)
    return summary


def account_persons(session: Session) -> dict[int, str]:
    """account id -> the key of the person it belongs to (for listings of accounts)."""
    rows = session.execute(
        select(PersonLink.account_id, Person.key).join(Person, Person.id == PersonLink.person_id)
    )
    return {aid: key for aid, key in rows}


def persons(session: Session) -> list[dict[str, Any]]:
    """Every person with its accounts and, for each, the evidence of the link; by phone."""
    accs = {
        a.id: a
        for a in session.scalars(
            select(m.Account).where(m.Account.id.in_(select(PersonLink.account_id).scalar_subquery()))
        )
    }
    out: dict[int, dict[str, Any]] = {}
    for p in session.scalars(select(Person).order_by(Person.phone, Person.key)):
        out[p.id] = {"person": p.key, "rule": p.rule, "phone": p.phone, "country": p.country, "accounts": []}
    for link in session.scalars(select(PersonLink).order_by(PersonLink.person_id, PersonLink.account_id)):
        a = accs.get(link.account_id)
        if link.person_id not in out or a is None:
            continue
        out[link.person_id]["accounts"].append(
            {
                "account": a.key,
                "platform": a.platform,
                "names": list(a.names or []),
                "rule": link.rule,
                "phone": link.phone,
                "evidence": link.evidence,
            }
        )
    for row in out.values():
        row["platforms"] = sorted({a["platform"] for a in row["accounts"]})
    return list(out.values())


def not_linked(session: Session) -> list[dict[str, Any]]:
    """Numbers several accounts share that the rule does not link, with the reason (read only)."""
    summary = LinkSummary()
    _wanted(session, summary)
    return summary.not_linked
