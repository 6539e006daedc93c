"""Messaging sources found during a walk: recognised by name and first bytes, parsed after the walk.

Parsing waits until the device's files are stored so attachments resolve to stored files; each source
is stored in one transaction (``tessera.ingest.messaging.store_source``), and one already stored by an
interrupted run is not parsed again.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from datetime import tzinfo

from sqlalchemy import select

from tessera.evidence.base import read_head
from tessera.ingest.messaging import SourceResult, link_media, store_source, whatsapp_media_root
from tessera.messaging import PARSERS, ParseContext
from tessera.messaging.detect import detect_parser
from tessera.messaging.records import MessagingRecord
from tessera.records import EvidenceItem, Opener
from tessera.store import models as m
from tessera.store.case import CaseHandle


def detect_source(item: EvidenceItem) -> str | None:
    """The parser that claims this item, or None."""
    assert item.opener is not None
    try:
        return detect_parser(item.locator, read_head(item.opener))
    except OSError:
        return None


def _sibling(item: EvidenceItem, aux: dict[str, Opener]) -> Callable[[str], Opener | None]:
    parent = item.locator.rsplit("/", 1)[0]

    def find(name: str) -> Opener | None:
        found = aux.get(posixpath.normpath(f"{parent}/{name}"))
        if found is not None:
            return found
        if item.opener is not None and item.opener.path is not None and item.depth == 0:
            path = os.path.join(os.path.dirname(item.opener.path), name)
            if os.path.isfile(path) and not os.path.islink(path):
                return Opener(path=path)
        return None

    return find


def parse_source(
    case: CaseHandle,
    device_id: str,
    item: EvidenceItem,
    parser: str,
    aux: dict[str, Opener],
    *,
    region: str | None = None,
    local_tz: tzinfo | None = None,
    options: dict[str, str] | None = None,
) -> SourceResult | None:
    """Parse and store one source; None when an earlier run already stored it."""
    with case.session() as s:
        done = s.scalar(
            select(m.MessagingSource.status).where(
                m.MessagingSource.device_id == device_id, m.MessagingSource.locator == item.locator
            )
        )
    if done == "complete":
        return None  # stored by an earlier (interrupted) run
    assert item.opener is not None
    ctx = ParseContext(
        locator=item.locator,
        opener=item.opener,
        scratch=case.scratch,
        sibling=_sibling(item, aux),
        local_tz=local_tz,
        device_id=device_id,
        options=dict(options or {}),
    )
    res = store_source(case.session, device_id, item.locator, parser, _records(parser, ctx), region=region)
    if not res.error:
        with case.session() as s:
            link_media(s, device_id, item.locator, whatsapp_media_root(s, device_id))
            s.commit()
    return res


def _records(parser: str, ctx: ParseContext) -> Iterator[MessagingRecord]:
    # A parser may check its input as soon as it is called; calling it inside the storing
    # transaction's error handling keeps "bad source recorded, run goes on" true for every parser.
    yield from PARSERS.get(parser).parse(ctx)
