"""What the text of a WhatsApp "Export chat" looks like: line headers, dates, attachment markers and
system lines in English, Spanish and Portuguese.

Kept apart from the parser so the tables can grow (more locales, more marker variants) without touching
the parsing logic. Every pattern is matched against text whose invisible direction marks were already
removed (:func:`strip_marks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# Direction marks WhatsApp scatters around numbers, names and markers (LRM, RLM, embeddings,
# overrides, isolates) and the BOM / zero-width no-break space: none of them is content.
MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
MARK_SET = frozenset(MARKS)
_MARK_TABLE = dict.fromkeys(map(ord, MARKS))


def strip_marks(text: str) -> str:
    return text.translate(_MARK_TABLE)


def mark_before(raw: str, clean_pos: int) -> bool:
    """Whether, in ``raw``, a direction mark stands right before the character found at ``clean_pos``
    of ``strip_marks(raw)``. iOS puts a left-to-right mark before every text it generated itself
    (system notices, markers), which is how a notice is told from the same words typed by a person."""
    n = 0
    prev_mark = False
    for ch in raw:
        if ch in MARK_SET:
            prev_mark = True
            continue
        if n == clean_pos:
            return prev_mark
        prev_mark = False
        n += 1
    return prev_mark


# --- line headers ------------------------------------------------------------------------------

_DATE = r"(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})\.?"
_TIME = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?"
# "AM", "am", "a.m.", Spanish "a. m." (the inner space often a no-break space); \s covers U+00A0/U+202F.
_AMPM = r"(?:\s?(?P<ampm>[AaPp]\.?\s?[Mm]\.?))?"
#: iOS: ``[01/03/2024, 10:00:00] Name: text``.
IOS_HEADER = re.compile(rf"\[{_DATE},?\s+{_TIME}{_AMPM}\]\s?(?P<body>.*)", re.DOTALL)
#: Android: ``01/03/2024, 10:00 - Name: text`` (some locales drop the comma).
ANDROID_HEADER = re.compile(rf"{_DATE},?\s+{_TIME}{_AMPM}\s[-\u2013]\s?(?P<body>.*)", re.DOTALL)
HEADERS = {"ios": IOS_HEADER, "android": ANDROID_HEADER}
#: What a cut-off header (the last line of a truncated file) still starts with: a date's first field
#: and separator.
HEADER_START = re.compile(r"\[?\d{1,4}[./-]")

ORDERS = ("DMY", "MDY", "YMD")


def date_parts(text: str) -> tuple[str, str, str]:
    a, b, c = re.split(r"[./-]", text)
    return a, b, c


def decide_order(dates: list[tuple[str, str, str]], hint: str | None) -> tuple[str, str]:
    """(order, how it was decided: "file" | "option" | "default") for all dates of one file.

    A four-digit first field means year first. Otherwise a first field above 12 proves day first and a
    second field above 12 proves month first; when neither occurs the order cannot be read from the
    file, and the locale hint (or day first, the most common order worldwide) is used.
    """
    if dates and sum(len(d[0]) == 4 for d in dates) * 2 > len(dates):
        return "YMD", "file"
    day_first = sum(int(d[0]) > 12 for d in dates if len(d[0]) <= 2)
    month_first = sum(int(d[1]) > 12 for d in dates if len(d[0]) <= 2)
    if day_first or month_first:
        # Both seen means a mixed or corrupt file; the order with more proof wins, and lines
        # impossible under it are kept as text of the message before them.
        return ("DMY" if day_first >= month_first else "MDY"), "file"
    if hint:
        return hint, "option"
    return "DMY", "default"


def make_date(parts: tuple[str, str, str], order: str) -> date | None:
    if order == "YMD":
        y, mo, d = parts
    elif order == "MDY":
        mo, d, y = parts
    else:
        d, mo, y = parts
    year = int(y) + 2000 if len(y) <= 2 else int(y)  # WhatsApp is younger than 2000
    try:
        return date(year, int(mo), int(d))
    except ValueError:
        return None


# --- attachments ---------------------------------------------------------------------------------

#: iOS, file in the export: ``<attached: 00000012-PHOTO-2024-03-01-10-00-00.jpg>`` (es ``adjunto``,
#: pt ``anexado``; de/fr/it as open-source parsers list them); may stand after a caption on the line.
IOS_ATTACHED = re.compile(
    r"<(?:attached|adjunto|anexado|anhang|pi[eè]ce jointe|allegato)\s?:\s*(?P<name>[^<>]+?)\s*>",
    re.IGNORECASE,
)
#: Android, file in the export: ``IMG-20240301-WA0001.jpg (file attached)``; the caption follows on
#: the next lines.
ANDROID_ATTACHED = re.compile(
    r"(?P<name>.+?)\s\((?:file attached|archivo adjunto|arquivo anexado|datei angeh[aä]ngt|fichier joint|"
    r"file allegato)\)",
    re.IGNORECASE,
)
#: Android, exported "without media".
ANDROID_OMITTED = re.compile(
    r"<(?:media omitted|multimedia omitido|medios omitidos|m[ií]dia oculta|arquivo de m[ií]dia oculto|"
    r"medien ausgeschlossen|m[ée]dias omis|media omessi)>",
    re.IGNORECASE,
)
#: iOS, exported "without media": the phrase names the kind.
IOS_OMITTED: dict[str, str] = {
    # en
    "image omitted": "image",
    "video omitted": "video",
    "audio omitted": "audio",
    "sticker omitted": "sticker",
    "gif omitted": "video",
    "document omitted": "document",
    "contact card omitted": "other",
    # es
    "imagen omitida": "image",
    "video omitido": "video",
    "audio omitido": "audio",
    "sticker omitido": "sticker",
    "gif omitido": "video",
    "documento omitido": "document",
    "tarjeta de contacto omitida": "other",
    # pt
    "imagem ocultada": "image",
    "imagem omitida": "image",
    "vídeo ocultado": "video",
    "vídeo omitido": "video",
    "áudio ocultado": "audio",
    "áudio omitido": "audio",
    "figurinha omitida": "sticker",
    "cartão do contato omitido": "other",
}
#: Android writes ``null`` for media it could not export (typically view-once).
ANDROID_NULL = "null"

DELETED = re.compile(
    r"(?:this message was deleted|you deleted this message|se elimin[oó] este mensaje|"
    r"este mensaje fue eliminado|eliminaste este mensaje|mensagem apagada|"
    r"voc[eê] apagou esta mensagem|esta mensagem foi apagada)\.?",
    re.IGNORECASE,
)
EDITED_SUFFIX = re.compile(
    r"\s*<(?:this message was edited|se edit[oó] este mensaje\.?|mensagem editada)>\s*$", re.IGNORECASE
)

_KIND_BY_PREFIX = {
    "IMG": "image",
    "PHOTO": "image",
    "VID": "video",
    "VIDEO": "video",
    "GIF": "video",
    "AUD": "audio",
    "PTT": "audio",
    "AUDIO": "audio",
    "STK": "sticker",
    "STICKER": "sticker",
    "DOC": "document",
}
_KIND_BY_EXT = {
    **dict.fromkeys(("jpg", "jpeg", "png", "heic", "gif", "bmp"), "image"),
    **dict.fromkeys(("mp4", "mov", "3gp", "mkv", "avi", "webm"), "video"),
    **dict.fromkeys(("opus", "ogg", "m4a", "aac", "mp3", "amr", "wav"), "audio"),
    "webp": "sticker",
    **dict.fromkeys(("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "zip", "apk"), "document"),
}


def media_kind(file_name: str) -> str:
    """The message kind an attachment's name implies: WhatsApp's own prefixes first (Android
    ``IMG-``/``VID-``/``PTT-``..., iOS ``00000012-PHOTO-``...), then the extension."""
    m = re.match(r"(?:\d+-)?([A-Z]+)-", file_name)
    if m and m.group(1) in _KIND_BY_PREFIX:
        return _KIND_BY_PREFIX[m.group(1)]
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return _KIND_BY_EXT.get(ext, "document" if ext else "other")


# --- system lines --------------------------------------------------------------------------------

#: The exporter, as system lines name them ("You added ...", "Añadiste a ...").
YOU = "You"
_Q = '["\u201c\u00ab]'
_QE = '["\u201d\u00bb]'
# An actor never contains ": ", so "Name: some text ... left" is never read as a notice.
_A = r"(?P<actor>(?:(?!: ).)+?)"
_T = r"(?P<targets>.+)"
_TITLE = rf"{_Q}(?P<title>.*){_QE}"
_FROM = rf"(?:{_Q}.*{_QE} )?"
CONJUNCTIONS = {"en": "and", "es": "y", "pt": "e"}


@dataclass(frozen=True, slots=True)
class SystemPattern:
    regex: re.Pattern[str]
    action: str | None
    locale: str
    by_you: bool = False  # the actor is the exporter


def _p(src: str, action: str | None, locale: str, by_you: bool = False) -> SystemPattern:
    return SystemPattern(re.compile(src, re.IGNORECASE | re.DOTALL), action, locale, by_you)


# "You ..." forms come before the "{actor} ..." forms, which would also match them.
SYSTEM_PATTERNS: tuple[SystemPattern, ...] = (
    # end-to-end encryption banners
    _p(r"messages and calls are end-to-end encrypted\b.*", "encrypted", "en"),
    _p(
        r"messages (?:to|you send to) this (?:group|chat)(?: and calls)? are now secured with end-to-end "
        r"encryption\b.*",
        "encrypted",
        "en",
    ),
    _p(r"los mensajes y (?:las )?llamadas están cifrados de extremo a extremo\b.*", "encrypted", "es"),
    _p(
        r"los mensajes (?:que envíes a|en) este (?:grupo|chat) ahora están protegidos con cifrado de extremo "
        r"a extremo\b.*",
        "encrypted",
        "es",
    ),
    _p(
        r"(?:as )?mensagens e (?:as )?(?:chamadas|ligações) são protegidas com a criptografia de ponta a "
        r"ponta\b.*",
        "encrypted",
        "pt",
    ),
    # creation
    _p(rf"you created (?:group {_TITLE}|this group)", "created", "en", True),
    _p(rf"{_A} created (?:group {_TITLE}|this group)", "created", "en"),
    _p(rf"creaste (?:el grupo {_TITLE}|este grupo)", "created", "es", True),
    _p(rf"{_A} creó (?:el grupo {_TITLE}|este grupo)", "created", "es"),
    _p(rf"você criou (?:o grupo {_TITLE}|este grupo)", "created", "pt", True),
    _p(rf"{_A} criou (?:o grupo {_TITLE}|este grupo)", "created", "pt"),
    # joining by link (before "added": no overlap, but cheap to keep the specific first)
    _p(r"you joined using this group's invite link", "joined", "en", True),
    _p(rf"{_A} joined using this group's invite link", "joined", "en"),
    _p(r"te uniste (?:usando|mediante) el enlace de invitación de este grupo", "joined", "es", True),
    _p(rf"{_A} se unió (?:usando|mediante) el enlace de invitación de este grupo", "joined", "es"),
    _p(r"você entrou (?:usando|por meio d)o link de convite deste grupo", "joined", "pt", True),
    _p(rf"{_A} entrou (?:usando|por meio d)o link de convite deste grupo", "joined", "pt"),
    # additions
    _p(rf"you added {_T}", "added", "en", True),
    _p(rf"{_A} added {_T}", "added", "en"),
    _p(rf"(?:añadiste|agregaste) a {_T}", "added", "es", True),
    _p(rf"{_A} (?:añadió|agregó) a {_T}", "added", "es"),
    _p(rf"você adicionou {_T}", "added", "pt", True),
    _p(rf"{_A} adicionou {_T}", "added", "pt"),
    # removals
    _p(rf"you removed {_T}", "removed", "en", True),
    _p(rf"{_A} removed {_T}", "removed", "en"),
    _p(rf"eliminaste a {_T}", "removed", "es", True),
    _p(rf"{_A} eliminó a {_T}", "removed", "es"),
    _p(rf"você removeu {_T}", "removed", "pt", True),
    _p(rf"{_A} removeu {_T}", "removed", "pt"),
    # leaving
    _p(r"you left", "left", "en", True),
    _p(rf"{_A} left", "left", "en"),
    _p(r"saliste(?: del grupo)?", "left", "es", True),
    _p(rf"{_A} salió(?: del grupo)?", "left", "es"),
    _p(r"você saiu(?: do grupo)?", "left", "pt", True),
    _p(rf"{_A} saiu(?: do grupo)?", "left", "pt"),
    # renaming
    _p(rf"you changed the (?:subject|group name) {_FROM}to {_TITLE}", "renamed", "en", True),
    _p(rf"{_A} changed the (?:subject|group name) {_FROM}to {_TITLE}", "renamed", "en"),
    _p(rf"cambiaste (?:el asunto|el nombre del grupo) (?:de {_Q}.*{_QE} )?a {_TITLE}", "renamed", "es", True),
    _p(rf"{_A} cambió (?:el asunto|el nombre del grupo) (?:de {_Q}.*{_QE} )?a {_TITLE}", "renamed", "es"),
    _p(
        rf"você (?:mudou|alterou) o nome(?: do grupo)? (?:de {_Q}.*{_QE} )?para {_TITLE}",
        "renamed",
        "pt",
        True,
    ),
    _p(rf"{_A} (?:mudou|alterou) o nome(?: do grupo)? (?:de {_Q}.*{_QE} )?para {_TITLE}", "renamed", "pt"),
    # icon and description
    _p(rf"{_A} changed (?:this group's icon|the group icon)", "icon_changed", "en"),
    _p(rf"{_A} cambió (?:el ícono|la imagen|la foto) de(?:l| este) grupo", "icon_changed", "es"),
    _p(rf"{_A} (?:mudou|alterou) a imagem (?:deste|do) grupo", "icon_changed", "pt"),
    _p(rf"{_A} changed the group description", "description_changed", "en"),
    _p(rf"{_A} cambió la descripción del grupo", "description_changed", "es"),
    _p(rf"{_A} (?:mudou|alterou) a descrição do grupo", "description_changed", "pt"),
    # admins
    _p(r"you're now an admin", "promoted", "en", True),
    _p(rf"{_A} (?:is|are) now an admin", "promoted", "en"),
    _p(r"ahora eres admin(?:istrador)?(?: del grupo)?", "promoted", "es", True),
    _p(rf"{_A} ahora es admin(?:istrador)?(?: del grupo)?", "promoted", "es"),
    _p(r"agora você é admin(?:istrador)?(?: do grupo)?", "promoted", "pt", True),
    _p(rf"{_A} agora é admin(?:istrador)?(?: do grupo)?", "promoted", "pt"),
    # identity changes
    _p(rf"your security code with {_A} changed\b.*", "security_code_changed", "en"),
    _p(rf"{_A}'s security code changed\b.*", "security_code_changed", "en"),
    _p(
        rf"(?:tu código de seguridad con|el código de seguridad de) {_A} cambió\b.*",
        "security_code_changed",
        "es",
    ),
    _p(
        rf"(?:seu código de segurança com|o código de segurança de) {_A} mudou\b.*",
        "security_code_changed",
        "pt",
    ),
    _p(rf"{_A} changed their phone number\b.*", "number_changed", "en"),
    _p(rf"{_A} cambió su número de teléfono\b.*", "number_changed", "es"),
    _p(rf"{_A} mudou (?:seu|o) número de telefone\b.*", "number_changed", "pt"),
)

#: Actions that only happen in groups: one of them makes a chat a group.
GROUP_ACTIONS = frozenset(
    {
        "created",
        "joined",
        "added",
        "removed",
        "left",
        "renamed",
        "icon_changed",
        "description_changed",
        "promoted",
    }
)
#: How system lines name the exporter as a target ("X added you").
YOU_TARGETS = frozenset({"you", "te", "você", "voce"})


def match_system(text: str) -> tuple[SystemPattern, re.Match[str]] | None:
    for pattern in SYSTEM_PATTERNS:
        m = pattern.regex.fullmatch(text)
        if m:
            return pattern, m
    return None


def split_targets(targets: str, locale: str) -> list[str]:
    """``A, B and C`` -> [A, B, C] (``y`` in Spanish, ``e`` in Portuguese)."""
    parts = [p.strip() for p in targets.split(", ")]
    last = re.split(rf"\s+{CONJUNCTIONS[locale]}\s+", parts[-1])
    return [p for p in parts[:-1] + last if p]
