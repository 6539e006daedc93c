"""Messaging apps whose data Tessera recognises but does not parse (yet): named, never silent.

Each entry is a plugin of its own axis (``APPS``), registered under a permanent name, and owns how
its data is recognised: the base names of the app's message store and, where a base name alone is
too common, a pattern the path must match. A file that a parser claims is parsed; one that only an
entry here recognises is recorded on its device as "present, not parsed" with its locator, and
listed by ``tessera sources``, the ingest summary and the report. Write-ahead logs and other
companions are not listed separately: the entry names the app's main store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tessera.evidence.base import last_name
from tessera.plugins import Registry


@dataclass(frozen=True)
class KnownApp:
    title: str
    #: What the file is, in the examiner's words.
    what: str
    #: Lower-case regex on the file's base name.
    name: str
    #: Lower-case regex searched in the whole locator; None: the base name is distinctive enough.
    path: str | None = None

    def reason(self) -> str:
        return f"{self.title} {self.what}: present, not parsed (Tessera has no parser for it yet)"


APPS: Registry[KnownApp] = Registry("known messaging app")

_BUILTIN: dict[str, KnownApp] = {
    "telegram-ios": KnownApp(
        "Telegram for iOS", "message database (Postbox)", r"db_sqlite", r"/telegram-data/|/postbox/"
    ),
    "telegram-desktop": KnownApp(
        "Telegram Desktop", "encrypted local data (tdata)", r"key_datas", r"/tdata/"
    ),
    # ChatStorage.sqlite is parsed ("whatsapp-ios"); its call log beside it is not (yet).
    # The name alone: an extraction's locator need not show the app-group folder (iOS's own call log
    # is CallHistory.storedata).
    "whatsapp-ios-calls": KnownApp("WhatsApp for iOS", "call history", r"callhistory\.sqlite"),
    "signal-android": KnownApp(
        "Signal for Android", "message database (SQLCipher)", r"signal\.db", r"securesms"
    ),
    "signal-desktop": KnownApp(
        "Signal Desktop", "message database (SQLCipher)", r"db\.sqlite", r"/signal/sql/"
    ),
    "signal-ios": KnownApp("Signal for iOS", "message database (SQLCipher)", r"signal\.sqlite", r"/grdb/"),
    "viber-android": KnownApp("Viber for Android", "message database", r"viber_messages"),
    "viber-ios": KnownApp("Viber for iOS", "message database", r"contacts\.data", r"viber"),
    "threema-android": KnownApp("Threema for Android", "message database (SQLCipher)", r"threema4?\.db"),
    "kik-android": KnownApp("Kik for Android", "message database", r"kikdatabase\.db"),
    "line-android": KnownApp("LINE for Android", "message database", r"naver_line"),
    "wechat-android": KnownApp("WeChat for Android", "message database (SQLCipher)", r"enmicromsg\.db"),
    "messenger-android": KnownApp("Facebook Messenger for Android", "message database", r"threads_db2"),
    "wickr-android": KnownApp("Wickr for Android", "message database", r"wickr_db", r"wickr"),
    "session-android": KnownApp("Session for Android", "message database", r"session\.db", r"loki|session"),
    "skype-android": KnownApp("Skype for Android", "message database", r"s4l-.*\.db", r"skype"),
    "discord-android": KnownApp("Discord for Android", "message cache", r"kv-storage\.db", r"discord"),
    "snapchat-android": KnownApp("Snapchat for Android", "message database", r"arroyo\.db", r"snapchat"),
}
for _name, _app in _BUILTIN.items():
    APPS.register(_name)(_app)


def _any_name() -> re.Pattern[str]:
    return _compiled(tuple(APPS.names()))


@lru_cache(maxsize=4)
def _compiled(_names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{app.name})" for _, app in APPS))


def recognise(locator: str) -> tuple[str, KnownApp] | None:
    """The known app whose data this file is, or None. Cheap: one regex on the base name first."""
    base = last_name(locator).rsplit("/", 1)[-1].lower()
    if not _any_name().fullmatch(base):
        return None
    low = locator.lower()
    for name, app in APPS:
        if re.fullmatch(app.name, base) and (app.path is None or re.search(app.path, low)):
            return name, app
    return None
