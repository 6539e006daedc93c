"""Finding messaging sources among evidence items: by name first (cheap), then by the parser's check."""

from __future__ import annotations

import posixpath

from tessera.messaging.base import PARSERS

#: Files a parser reads beside its source (a msgstore's contact names, write-ahead log, and the
#: app preferences that name the phone's own number).
AUX_NAMES = frozenset(
    {
        "wa.db",
        "msgstore.db-wal",
        "wa.db-wal",
        "com.whatsapp_preferences_light.xml",
        "com.whatsapp_preferences.xml",
    }
)


def maybe_messaging(locator: str) -> bool:
    name = posixpath.basename(locator).lower()
    return name.startswith("msgstore") or name == "result.json" or name.endswith(".txt") or ".crypt" in name


def detect_parser(locator: str, head: bytes) -> str | None:
    """The registered parser that claims this file, or None."""
    for name, parser in PARSERS:
        if parser.detect(locator, head):
            return name
    return None
