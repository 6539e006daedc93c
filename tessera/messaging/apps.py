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
from dataclasses import dataclass, replace
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
    #: Lower-case Android packages, iOS bundle and app-group ids: a path naming one shows the app's
    #: data (its folder, a preferences file) even where no message store is among the files.
    ids: tuple[str, ...] = ()
    #: Why this data is not read: the examiner's answer to "why not parsed?".
    why: str = "Tessera has no parser for it yet"
    #: Parsers that read this app's data: a source of one of them on the device stands for the app.
    parsers: tuple[str, ...] = ()

    def reason(self) -> str:
        return f"{self.title} {self.what}: present, not parsed ({self.why})"


APPS: Registry[KnownApp] = Registry("known messaging app")

_BUILTIN: dict[str, KnownApp] = {
    "telegram-ios": KnownApp(
        "Telegram for iOS",
        "message database (Postbox)",
        r"db_sqlite",
        r"/telegram-data/account-\d+/postbox/db/",
    ),
    "telegram-desktop": KnownApp(
        "Telegram Desktop", "encrypted local data (tdata)", r"key_datas", r"/tdata/"
    ),
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
_SQLCIPHER = "encrypted database (SQLCipher), key not available"
#: Why the message stores above are not read, where it is more than "no parser yet".
_WHY = {
    "signal-android": _SQLCIPHER,
    "signal-desktop": _SQLCIPHER,
    "signal-ios": _SQLCIPHER,
    "threema-android": _SQLCIPHER,
    "wechat-android": _SQLCIPHER,
    "telegram-ios": "encrypted database (SQLCipher, key in .tempkeyEncrypted), not read",
}
_NO_DB = "no message store Tessera reads was among the app's files"
#: Each app's data folders and ids, one entry per app and platform (the app inventory): recognised
#: by the packages, bundle ids and app groups its paths name. ``name`` never matches a base name:
#: these entries name the app, the entries above name its files.
#: (key, title, ids, parsers that read the app, why not parsed)
_DATA: list[tuple[str, str, tuple[str, ...], tuple[str, ...], str]] = [
    ("whatsapp-android-data", "WhatsApp for Android", ("com.whatsapp",), ("whatsapp-msgstore",), _NO_DB),
    (
        "whatsapp-business-android-data",
        "WhatsApp Business for Android",
        ("com.whatsapp.w4b",),
        ("whatsapp-business-msgstore", "whatsapp-msgstore"),
        _NO_DB,
    ),
    (
        "whatsapp-ios-data",
        "WhatsApp for iOS",
        ("net.whatsapp.whatsapp", "group.net.whatsapp.whatsapp.shared"),
        ("whatsapp-ios", "whatsapp-ios-calls"),
        _NO_DB,
    ),
    (
        "whatsapp-business-ios-data",
        "WhatsApp Business for iOS",
        ("net.whatsapp.whatsappsmb", "group.net.whatsapp.whatsappsmb.shared"),
        ("whatsapp-ios", "whatsapp-ios-calls"),
        _NO_DB,
    ),
    (
        "telegram-android-data",
        "Telegram for Android",
        (
            "org.telegram.messenger",
            "org.telegram.messenger.web",
            "org.telegram.plus",
            "org.thunderdog.challegram",
        ),
        ("telegram-android",),
        _NO_DB,
    ),
    (
        "telegram-ios-data",
        "Telegram for iOS",
        ("ph.telegra.telegraph", "group.ph.telegra.telegraph"),
        (),
        _WHY["telegram-ios"],
    ),
    ("signal-android-data", "Signal for Android", ("org.thoughtcrime.securesms",), (), _SQLCIPHER),
    (
        "signal-ios-data",
        "Signal for iOS",
        ("org.whispersystems.signal", "group.org.whispersystems.signal.group"),
        (),
        _SQLCIPHER,
    ),
    ("viber-android-data", "Viber for Android", ("com.viber.voip",), (), _NO_DB),
    ("viber-ios-data", "Viber for iOS", ("com.viber", "group.viber.share.container"), (), _NO_DB),
    (
        "threema-android-data",
        "Threema for Android",
        ("ch.threema.app", "ch.threema.app.libre", "ch.threema.app.work"),
        (),
        _SQLCIPHER,
    ),
    ("threema-ios-data", "Threema for iOS", ("ch.threema.iapp", "group.ch.threema"), (), _NO_DB),
    ("wickr-android-data", "Wickr for Android", ("com.mywickr.wickr2", "com.wickr.pro"), (), _NO_DB),
    ("wickr-ios-data", "Wickr for iOS", ("com.mywickr.wickr",), (), _NO_DB),
    ("session-android-data", "Session for Android", ("network.loki.messenger",), (), _SQLCIPHER),
    ("session-ios-data", "Session for iOS", ("com.loki-project.loki-messenger",), (), _SQLCIPHER),
    ("kik-android-data", "Kik for Android", ("kik.android",), (), _NO_DB),
    ("kik-ios-data", "Kik for iOS", ("com.kik.chat",), (), _NO_DB),
    ("discord-android-data", "Discord for Android", ("com.discord",), (), _NO_DB),
    ("discord-ios-data", "Discord for iOS", ("com.hammerandchisel.discord",), (), _NO_DB),
    ("snapchat-android-data", "Snapchat for Android", ("com.snapchat.android",), (), _NO_DB),
    ("snapchat-ios-data", "Snapchat for iOS", ("com.toyopagroup.picaboo",), (), _NO_DB),
    ("instagram-android-data", "Instagram for Android", ("com.instagram.android",), (), _NO_DB),
    ("instagram-ios-data", "Instagram for iOS", ("com.burbn.instagram",), (), _NO_DB),
    ("messenger-android-data", "Facebook Messenger for Android", ("com.facebook.orca",), (), _NO_DB),
    ("messenger-ios-data", "Facebook Messenger for iOS", ("com.facebook.messenger",), (), _NO_DB),
    ("line-android-data", "LINE for Android", ("jp.naver.line.android",), (), _NO_DB),
    ("wechat-android-data", "WeChat for Android", ("com.tencent.mm",), (), _SQLCIPHER),
    ("skype-android-data", "Skype for Android", ("com.skype.raider",), (), _NO_DB),
]
for _name, _app in _BUILTIN.items():
    APPS.register(_name)(replace(_app, why=_WHY.get(_name, _app.why)))
for _key, _title, _app_ids, _readers, _reason in _DATA:
    APPS.register(_key)(KnownApp(_title, "app data", r"(?!)", None, _app_ids, _reason, _readers))


def _any_name() -> re.Pattern[str]:
    return _compiled(APPS.name_tuple())


@lru_cache(maxsize=4)
def _compiled(_names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{app.name})" for _, app in APPS))


def recognise(locator: str, base: str | None = None) -> tuple[str, KnownApp] | None:
    """The known app whose data this file is, or None. Cheap: one regex on the base name first
    (``base``: the lower-cased base name, when the caller has it)."""
    if base is None:
        base = last_name(locator).rsplit("/", 1)[-1].lower()
    if not _any_name().fullmatch(base):
        return None
    low = locator.lower()
    for name, app in APPS:
        if re.fullmatch(app.name, base) and (app.path is None or re.search(app.path, low)):
            return name, app
    return None


@lru_cache(maxsize=4)
def _ids(_names: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex for every id (longest first, so ``com.whatsapp.w4b`` is not read as
    ``com.whatsapp``), bounded so ``com.viber`` is not found inside ``xcom.viberx``; and id -> app."""
    owner = {i: name for name, app in APPS for i in app.ids}
    alts = "|".join(re.escape(i) for i in sorted(owner, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alts or '(?!)'})(?![a-z0-9])"), owner


def identify(locator: str) -> tuple[str, KnownApp, str] | None:
    """(entry, app, evidence locator) when a path names a known app's package, bundle or app group:
    the evidence locator ends with the named folder or file (``/x.zip!/data/data/com.viber.voip``)."""
    low = locator.lower()
    pattern, owner = _ids(APPS.name_tuple())
    m = pattern.search(low)
    if m is None:
        return None
    name = owner[m.group(0)]
    end = low.find("/", m.end())
    return name, APPS.get(name), locator if end < 0 else locator[:end]


def app_of_source(parser: str, locator: str) -> tuple[str, KnownApp] | None:
    """The app a stored messaging source stands for: a known app's own row names it; a parser's
    source is the app whose ids its path names, else the first app that parser reads (a
    ``msgstore.db`` copied to a memory card is WhatsApp's)."""
    if parser in APPS:
        return parser, APPS.get(parser)
    readers = [(name, app) for name, app in APPS if parser in app.parsers]
    found = identify(locator)
    if not readers:
        # A parser no entry names (added later, by a plugin): the app its path names, if any.
        return (found[0], found[1]) if found is not None else None
    # The registry lists names sorted; the app a parser reads first is the first in ``_DATA``.
    first = {name: i for i, (name, *_rest) in enumerate(_DATA)}
    readers.sort(key=lambda r: first.get(r[0], len(first)))
    if found is not None and parser in found[1].parsers:
        return found[0], found[1]
    return readers[0]
