"""Messaging intelligence: parsers for WhatsApp and Telegram sources, returning records.

Importing this package registers the built-in parsers in :data:`PARSERS`, then any parser another
package declares under the entry-point group ``tessera.messaging_parsers`` (name = registry name,
value = ``module:object``), as datasette loads its plugins: a new parser needs no edit here.
"""

from tessera.messaging import (  # noqa: F401  (register the parsers)
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


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="tessera.messaging_parsers"):
        if ep.name not in PARSERS:
            PARSERS.register(ep.name)(ep.load())


_load_entry_points()
