"""Messaging intelligence: parsers for WhatsApp and Telegram sources, returning records.

Importing this package registers the built-in parsers in :data:`PARSERS`.
"""

from tessera.messaging import telegram, whatsapp_db, whatsapp_export  # noqa: F401  (register the parsers)
from tessera.messaging.base import PARSERS, MessagingParser, ParseContext
from tessera.messaging.records import ParseError

__all__ = ["PARSERS", "MessagingParser", "ParseContext", "ParseError"]
