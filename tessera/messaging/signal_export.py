"""Signal Desktop chats exported as text (signal-export's Markdown: ``[2019-12-24, 12:23] Jane Doe:``):
recognised by their content and recorded as "present, not parsed", never taken for a WhatsApp export.

Their lines look like a WhatsApp iOS export's, so without this claim a renamed Signal export
(``_chat.txt``, ``WhatsApp Chat with X.txt``) would be read as WhatsApp. The source is named in
``tessera sources`` and the report with the reason, and no message of it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from tessera.messaging import whatsapp_export_patterns as pat
from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.records import MessagingRecord, NotParsed

#: Lines of the head looked at: the first non-empty ones, as the WhatsApp export's sniff does.
HEAD_LINES = 20
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: A message line: a bracketed ISO date and time, then a sender and a colon.
_MESSAGE = re.compile(r"\[\d{4}-\d{2}-\d{2},? \d{2}:\d{2}(?::\d{2})?\] [^:\n]{1,120}:")
REASON = (
    "Signal Desktop chat export (text, as signal-export writes it): present, not parsed"
    " (Tessera has no parser for Signal exports yet; its lines are not read as WhatsApp)"
)


def head_lines(head: bytes) -> list[str]:
    """The first non-empty lines of a text file's head (UTF-8; undecodable bytes replaced)."""
    text = head[:8192].decode("utf-8", errors="replace")
    return [ln for ln in _LINE_BREAK.split(text) if ln.strip()][:HEAD_LINES]


def is_signal(lines: list[str]) -> bool:
    """signal-export's tell-tales: an ISO date with a comma and no seconds in brackets (no WhatsApp
    export writes that), or bracketed ISO dates with Markdown attachment links or reactions."""
    head = "\n".join(lines)
    return bool(pat.SIGNAL_HEADER.search(head)) or (
        bool(re.search(r"^\[\d{4}-\d{2}-\d{2}", head, re.MULTILINE)) and bool(pat.SIGNAL_MARKERS.search(head))
    )


class SignalExportParser:
    name: ClassVar[str] = "signal-export"
    #: signal-export writes ``chat.md``; copies are often renamed ``.txt``.
    patterns: ClassVar[tuple[str, ...]] = ("*.txt", "*.md")
    companions: ClassVar[tuple[str, ...]] = ()
    media_roots: ClassVar[tuple[str, ...]] = (".",)

    def detect(self, locator: str, head: bytes) -> bool:
        lines = head_lines(head)
        return is_signal(lines) and any(_MESSAGE.match(ln.lstrip("\ufeff")) for ln in lines)

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        raise NotParsed(REASON)
        yield  # pragma: no cover - a generator, like every parser


PARSERS.register(SignalExportParser.name)(SignalExportParser())
