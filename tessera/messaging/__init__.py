"""Messaging intelligence: parsers for WhatsApp and Telegram sources, returning records.

Importing this package registers the built-in parsers in :data:`PARSERS`. Another package adds a
parser through the entry-point group ``tessera.plugins`` (docs/plugins.md), loaded by
:mod:`tessera.plugins` at the first read of a registry: a new parser needs no edit here.
"""

from tessera.messaging import (  # noqa: F401  (register the parsers)
    signal_export,
    telegram,
    telegram_android,
    ufdr,
    whatsapp_db,
    whatsapp_export,
    whatsapp_ios,
    whatsapp_ios_calls,
)
from tessera.messaging.base import PARSERS, MessagingParser, ParseContext
from tessera.messaging.records import ParseError

__all__ = ["PARSERS", "MessagingParser", "ParseContext", "ParseError"]
