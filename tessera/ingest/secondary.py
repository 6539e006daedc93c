"""Secondary messaging sources: a tool's decoding of databases the same extraction also holds.

A Cellebrite UFDR holds WhatsApp's ``ChatStorage.sqlite`` at its device path *and* Physical
Analyzer's decoded chats of it in ``report.xml``: the same messages reach the case twice. A parser
that reads such a decoding declares ``secondary = True`` (``ufdr-report``). The messaging stage parses
secondary sources after the primary ones (the app databases), and a secondary message that the
device already holds from a primary source is not stored again: it is counted in the secondary
source's reconciliation as ignored, ``also in <primary source locator>``. Messages only the decoding
has (a deleted message the tool carved, a database the extraction lacks) are stored. Nothing lost,
nothing doubled.

"Already held" means: same platform and chat key (the same chat row), same sender key (the same
account, or both without a sender), the same time to the second (the decoding may round what the
database keeps in fractions), and the same content: the same text; or, both without text, the same
attachment (SHA-256), or, where either side has no attachment hash, the same kind. Each primary
message stands for at most one secondary message, so two identical lines in a report against one
database row keep one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from tessera.ingest.identities import Resolver, aware
from tessera.messaging import PARSERS
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import MessageRecord
from tessera.store import models as m

#: The reconciliation unit a secondary parser counts its messages in, when it does not name one.
DEFAULT_UNIT = "messages"


def is_secondary(parser: str) -> bool:
    """Does the parser read a tool's decoding of databases the extraction also holds?"""
    try:
        return bool(getattr(PARSERS.get(parser), "secondary", False))
    except KeyError:
        return False  # an app recorded "present, not parsed" names no parser


def secondary_names() -> list[str]:
    return sorted(name for name in PARSERS.names() if is_secondary(name))


@dataclass
class _Prior:
    text: str | None
    sha256: str | None
    kind: str
    source: str
    used: bool = False


@dataclass
class AlreadyStored:
    """For one secondary source: is a message already stored on the device by a primary source?

    Called for each message record before it is stored (``store_source(..., known=...)``); a hit is
    moved in ``coverage`` from parsed to ignored under the parser's message unit. Primary messages
    are loaded one chat at a time, when a secondary message first names that chat."""

    device_id: str
    coverage: Coverage
    unit: str = DEFAULT_UNIT
    by_chat: dict[int, dict[tuple[int | None, int], list[_Prior]]] = field(default_factory=dict)
    ignored: int = 0

    @classmethod
    def for_parser(cls, parser: str, device_id: str, coverage: Coverage) -> AlreadyStored:
        unit = getattr(PARSERS.get(parser), "message_unit", DEFAULT_UNIT)
        return cls(device_id, coverage, unit)

    def _load(self, store: Resolver, chat_id: int) -> dict[tuple[int | None, int], list[_Prior]]:
        found = self.by_chat.get(chat_id)
        if found is not None:
            return found
        msg: Any = m.Message.__table__.c
        src: Any = m.MessagingSource.__table__.c
        q = (
            select(msg.sender_id, msg.time, msg.text, msg.media_sha256, msg.kind, src.locator)
            .join_from(m.Message.__table__, m.MessagingSource.__table__, src.id == msg.source_id)
            .where(
                msg.device_id == self.device_id,
                msg.chat_id == chat_id,
                src.parser.not_in(secondary_names()),
                src.id != store.source_id,
            )
            .order_by(msg.id)
        )
        found = {}
        for sender, time, text, sha, kind, locator in store.conn.execute(q):
            key = (sender, int(aware(time).timestamp()))  # type: ignore[union-attr]
            found.setdefault(key, []).append(_Prior(text, sha, kind, locator))
        self.by_chat[chat_id] = found
        return found

    def __call__(self, store: Resolver, rec: MessageRecord) -> bool:
        """True when ``rec`` is already stored (and now counted as ignored): do not store it."""
        # Resolving the chat and sender is what storing the record would do first: a chat or
        # sender that does not exist yet is created for the message that is then stored.
        chat_id = store.chat(rec.platform, rec.chat)
        sender = store.account(rec.platform, rec.sender) if rec.sender else None
        priors = self._load(store, chat_id).get((sender, int(rec.time.timestamp())))
        if not priors:
            return False
        sha = rec.media.sha256 if rec.media is not None else None
        for p in priors:
            if p.used:
                continue
            if rec.text or p.text:
                same = rec.text == p.text
            elif sha and p.sha256:
                same = sha == p.sha256
            else:
                same = rec.kind == p.kind
            if same:
                p.used = True
                unit = self.coverage.units.get(self.unit)
                if unit is not None and unit.parsed > 0:
                    unit.parsed -= 1  # counted as parsed by the parser; it is an ignored copy
                self.coverage.ignore(self.unit, f"also in {p.source}", rec.locator)
                self.ignored += 1
                return True
        return False
