"""The messaging-parser interface: one plugin per source format, registered under a permanent name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import ClassVar, Protocol

from tessera.messaging.coverage import Coverage
from tessera.messaging.records import MessagingRecord
from tessera.plugins import Registry
from tessera.records import Opener


@dataclass
class ParseContext:
    """What a parser gets: the file, a way to reach files beside it, and scratch space.

    ``locator`` is the evidence locator of the file (``/sdcard/WhatsApp/Databases/msgstore.db``,
    ``/chat.zip!/WhatsApp Chat with G.txt``); record locators are built from it plus a position
    (``#message/4711``, ``#L120``). ``sibling(relative)`` returns an opener for a file next to it
    (``wa.db``, ``msgstore.db-wal``, an attachment in the same zip), or None. ``scratch`` is case
    space outside the evidence, for a parser that must copy a database before opening it.
    """

    locator: str
    opener: Opener
    scratch: Path
    sibling: Callable[[str], Opener | None] = lambda _name: None
    #: Chat exports write local times without a zone; this is the zone they are read in.
    local_tz: tzinfo | None = None
    device_id: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    #: The reconciliation the parser fills while it reads (see ``tessera.messaging.coverage``).
    coverage: Coverage = field(default_factory=Coverage)


class MessagingParser(Protocol):
    """A parser owns everything about its format: which files it reads (``patterns``, then
    ``detect``), what it reads beside them (``companions``) and where its attachments live
    (``media_roots``). Adding a parser touches only its module and its registration."""

    #: Permanent registry name: "whatsapp-msgstore", "whatsapp-export", "telegram-export".
    name: ClassVar[str]
    #: Case-insensitive globs on a file's base name: the cheap pre-filter before ``detect``.
    patterns: ClassVar[tuple[str, ...]]
    #: Files read beside a source, relative to its folder; ``{name}`` is the source's base name
    #: (``{name}-wal``, ``wa.db``, ``../shared_prefs/com.whatsapp_preferences.xml``).
    companions: ClassVar[tuple[str, ...]]
    #: Folders the source's attachment paths are relative to, relative to the device's shared
    #: storage or to the source's own folder (``WhatsApp``, ``Android/media/com.whatsapp/WhatsApp``).
    media_roots: ClassVar[tuple[str, ...]]
    # Optional (read with getattr): ``secondary = True`` for a parser of a tool's decoding of
    # databases the extraction also holds (``ufdr-report``), with ``message_unit``, the coverage
    # unit its messages count in; see ``tessera.ingest.secondary``.

    def detect(self, locator: str, head: bytes) -> bool:
        """Cheap check on the file name and first bytes (at least 8 KiB when the file has them)."""
        ...

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        """Check the declared required structure first (raise ParseError naming what is missing),
        then yield records, counting in ``ctx.coverage`` what the source holds, what was parsed and
        what was ignored or skipped and why. Raise ParseError for unreadable input; the pipeline
        stores nothing of a source whose parse raised or of which nothing could be parsed."""
        ...


PARSERS: Registry[MessagingParser] = Registry("messaging parser")


def file_context(
    path: str | Path,
    *,
    scratch: Path | None = None,
    device_id: str | None = None,
    options: dict[str, str] | None = None,
    coverage: Coverage | None = None,
) -> ParseContext:
    """A context for a source on the examiner's own file system (tests, benchmarks, ad-hoc use; the
    pipeline builds its own): companions are found beside it, scratch copies go to the system's
    temporary folder, never beside the evidence."""
    p = Path(path)

    def sibling(rel: str) -> Opener | None:
        # normpath, not resolve: ``../shared_prefs`` is a place in the evidence; links are not followed
        q = os.path.normpath(p.parent / rel)
        return Opener(path=q) if os.path.isfile(q) and not os.path.islink(q) else None

    return ParseContext(
        locator=str(p),
        opener=Opener(path=str(p)),
        scratch=scratch or Path(tempfile.gettempdir()) / "tessera-scratch",
        sibling=sibling,
        device_id=device_id,
        options=dict(options or {}),
        coverage=coverage if coverage is not None else Coverage(),
    )
