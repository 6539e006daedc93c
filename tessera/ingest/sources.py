"""The messaging stage of an ingest: sources noticed during the walk, parsed after it.

During the walk, :meth:`MessagingStage.see` looks at each item once (a regex on its base name; the
first bytes only for names some parser declares) and keeps what a parser will need: its sources,
their companions, and the data of known apps that nothing parses. After the walk, when the device's
files are stored (so attachments resolve to them), :meth:`MessagingStage.run` parses each source in
its own transaction with its reconciliation, and records each unparsed app's data by name. A source
already stored by an interrupted run is not parsed again; its stored status still counts.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo

from sqlalchemy import select

from tessera.evidence import discard_spool
from tessera.evidence.base import read_head
from tessera.ingest.messaging import SourceResult, link_media, record_not_parsed, store_source
from tessera.ingest.secondary import AlreadyStored, is_secondary
from tessera.messaging import PARSERS, ParseContext
from tessera.messaging.coverage import COMPLETE, INCOMPLETE, NOT_PARSED, PARTIAL, Coverage
from tessera.messaging.detect import base_name, detect_parser, is_companion, maybe_messaging
from tessera.messaging.inventory import AppFinder, duplicate_sources
from tessera.messaging.records import MessagingRecord
from tessera.records import EvidenceItem, Opener
from tessera.store import models as m
from tessera.store.case import CaseHandle


def detect_source(item: EvidenceItem, base: str | None = None) -> str | None:
    """The parser that claims this item, or None."""
    assert item.opener is not None
    try:
        return detect_parser(item.locator, read_head(item.opener), base)
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


@dataclass
class MessagingStage:
    """What the walk found for the messaging parsers, and the parsing after the walk."""

    sources: list[tuple[EvidenceItem, str]] = field(default_factory=list)
    companions: dict[str, Opener] = field(default_factory=dict)
    #: The companions' items, so their spool copies (members of an archive) go once parsing is done.
    companion_items: list[EvidenceItem] = field(default_factory=list)
    #: Known apps' files, folders and App Store records: the device's app inventory.
    apps: AppFinder = field(default_factory=AppFinder)

    def see(self, item: EvidenceItem) -> bool:
        """Look at one walked item; True when its bytes must be kept until :meth:`run`."""
        if item.opener is None or item.error is not None:
            return False
        keep = False
        base = base_name(item.locator)  # once: every check below starts from it
        parser = detect_source(item, base) if maybe_messaging(item.locator, base) else None
        if parser:
            self.sources.append((item, parser))
            keep = True
        keep = self.apps.see(item, claimed=bool(parser), base=base) or keep
        if is_companion(item.locator, base):
            self.companions[item.locator] = item.opener
            self.companion_items.append(item)
            keep = True
        return keep

    def run(
        self,
        case: CaseHandle,
        device_id: str,
        *,
        region: str | None = None,
        local_tz: tzinfo | None = None,
        options: dict[str, str] | None = None,
    ) -> list[SourceResult]:
        results: list[SourceResult] = []
        # One file a tool wrote twice (/data/data and /data/user/0, the Magisk mirror) is parsed once.
        with case.session() as s:
            dups = duplicate_sources(s, device_id, [(it.locator, p) for it, p in self.sources])
        # A tool's decoding of the app databases (secondary) after the databases themselves, so its
        # copies of messages already stored are recognised (tessera.ingest.secondary).
        for item, parser in sorted(self.sources, key=lambda source: is_secondary(source[1])):
            if item.locator in dups:
                reason = f"same file as {dups[item.locator]} (the extraction holds it twice): parsed there"
                with case.session() as s:
                    if record_not_parsed(s, device_id, item.locator, parser, reason):
                        results.append(SourceResult(item.locator, parser, status=NOT_PARSED, error=reason))
                    s.commit()
                discard_spool(item)
                continue
            res = parse_source(
                case,
                device_id,
                item,
                parser,
                self.companions,
                region=region,
                local_tz=local_tz,
                options=options,
            )
            if res is not None:
                results.append(res)
            discard_spool(item)
        for companion in self.companion_items:
            discard_spool(companion)
        self.apps.read_installed(case.scratch)
        with case.session() as s:
            for locator, app, reason in self.apps.record(s, device_id):
                results.append(SourceResult(locator, app, status=NOT_PARSED, error=reason))
            s.commit()
        return results


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
    """Parse and store one source; None when an earlier run already stored it (complete or partial:
    a parse is deterministic, and a million-message database is not read twice)."""
    with case.session() as s:
        done = s.scalar(
            select(m.MessagingSource.status).where(
                m.MessagingSource.device_id == device_id, m.MessagingSource.locator == item.locator
            )
        )
    if done in (COMPLETE, PARTIAL):
        return None
    assert item.opener is not None
    ctx = ParseContext(
        locator=item.locator,
        opener=item.opener,
        scratch=case.scratch,
        sibling=_sibling(item, aux),
        local_tz=local_tz,
        device_id=device_id,
        options=dict(options or {}),
        coverage=Coverage(),
    )
    res = store_source(
        case.session,
        device_id,
        item.locator,
        parser,
        _records(parser, ctx),
        region=region,
        coverage=ctx.coverage,
        known=AlreadyStored.for_parser(parser, device_id, ctx.coverage) if is_secondary(parser) else None,
    )
    if res.status in (COMPLETE, PARTIAL):
        with case.session() as s:
            link_media(s, device_id, item.locator, PARSERS.get(parser).media_roots)
            s.commit()
    return res


def _records(parser: str, ctx: ParseContext) -> Iterator[MessagingRecord]:
    # A parser may check its input as soon as it is called; calling it inside the storing
    # transaction's error handling keeps "bad source recorded, run goes on" true for every parser.
    yield from PARSERS.get(parser).parse(ctx)


def incomplete_sources(case: CaseHandle, device_id: str) -> list[tuple[str, str, str | None]]:
    """(locator, status, reason) of the device's stored sources that were not parsed in full, from
    this run or an earlier one: a resumed run is judged on everything the device holds."""
    with case.session() as s:
        rows = s.execute(
            select(m.MessagingSource.locator, m.MessagingSource.status, m.MessagingSource.error)
            .where(m.MessagingSource.device_id == device_id, m.MessagingSource.status.in_(sorted(INCOMPLETE)))
            .order_by(m.MessagingSource.locator)
        ).all()
    return [(loc, status, err) for loc, status, err in rows]
