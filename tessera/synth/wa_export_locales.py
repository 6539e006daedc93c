"""Small hand-scripted WhatsApp exports, one per quirk of the world's phones (native digits, time-first
layouts, Buddhist, Japanese-era and Persian years, day-half words, localised notices, the owner's
pseudonym, renames, an unreadable date), each with exact ground truth: every message's line, UTC time,
sender and action. Names and numbers are invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from tessera.messaging.whatsapp_export_patterns import persian_to_gregorian
from tessera.synth.wa_export import LRM, NBSP, NNBSP

OWNER = "whatsapp:owner@device"  # the parser's placeholder for the device owner without options
RLM = "\u200f"
_ARABIC, _PERSIAN = "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"


@dataclass(frozen=True, slots=True)
class QuirkMessage:
    line_no: int
    time: datetime  # UTC
    sender: str | None
    kind: str  # text | system
    action: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class QuirkExport:
    quirk: str
    name: str  # the text file's name
    text: str
    expected: list[QuirkMessage]
    lines: int
    skipped_lines: int  # dated lines whose date cannot be read (``unreadable`` only)
    options: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Quirk:
    layout: str  # android | ios | android-time-first
    date: str  # DMY | MDY | YMD | buddhist | buddhist-short | era | kanji | era-plain | persian
    clock: str  # 24h | 12h
    halves: tuple[str, str] = ("AM", "PM")
    halves_before: bool = False
    digits: str = ""  # native digits replacing 0-9
    comma: str = ", "
    sep: str = "/"
    seconds: bool = False
    encrypted: str = (
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not "
        "even WhatsApp, can read or listen to them."
    )
    created: str = 'You created group "{t}"'
    added_you: str = "{a} added you"
    renamed: str = '{a} changed the subject from "{o}" to "{n}"'
    left: str = "{a} left"
    options: tuple[tuple[str, str], ...] = ()


QUIRKS: dict[str, _Quirk] = {
    "en-ios-12h": _Quirk("ios", "MDY", "12h", seconds=True),
    "es-a.m.": _Quirk(
        "android",
        "DMY",
        "12h",
        (f"a.{NBSP}m.", f"p.{NBSP}m."),
        encrypted=(
            "Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de "
            "este chat, ni siquiera WhatsApp, puede leerlos ni escucharlos."
        ),
        created='Tú creaste el grupo "{t}"',
        added_you="{a} te añadió",
        renamed='{a} cambió el asunto de "{o}" a "{n}"',
        left="{a} salió del grupo",
    ),
    "pt-br": _Quirk(
        "android",
        "DMY",
        "24h",
        comma=" ",
        encrypted=(
            "As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta. "
            "Ninguém fora desta conversa, nem mesmo o WhatsApp, pode ler ou ouvi-las."
        ),
        created='Você criou o grupo "{t}"',
        added_you="{a} adicionou você",
        renamed='{a} mudou o nome do grupo de "{o}" para "{n}"',
        left="{a} saiu",
    ),
    "fr": _Quirk(
        "android",
        "DMY",
        "24h",
        comma=" ",
        encrypted=(
            "Les messages et les appels sont chiffrés de bout en bout. Aucun tiers, pas même "
            "WhatsApp, ne peut les lire ou les écouter."
        ),
        created="Vous avez créé le groupe « {t} »",
        added_you="{a} vous a ajouté",
        renamed="{a} a modifié le sujet de « {o} » en « {n} »",
        left="{a} est parti",
    ),
    "de-vorm": _Quirk(
        "android",
        "DMY",
        "12h",
        ("vorm.", "nachm."),
        sep=".",
        encrypted=(
            "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses "
            "Chats kann sie lesen oder anhören, nicht einmal WhatsApp."
        ),
        created="Du hast die Gruppe „{t}“ erstellt",
        added_you="{a} hat dich hinzugefügt",
        renamed="{a} hat den Betreff von „{o}“ zu „{n}“ geändert",
        left="{a} hat die Gruppe verlassen",
    ),
    "it": _Quirk(
        "ios",
        "DMY",
        "24h",
        seconds=True,
        encrypted=(
            "I messaggi e le chiamate sono crittografati end-to-end. Nessuno al di fuori di "
            "questa chat, nemmeno WhatsApp, può leggerli o ascoltarli."
        ),
        created='Hai creato il gruppo "{t}"',
        added_you="{a} ti ha aggiunto",
        renamed='{a} ha cambiato l\'oggetto da "{o}" a "{n}"',
        left="{a} è uscito",
    ),
    "nl": _Quirk(
        "android",
        "DMY",
        "24h",
        sep="-",
        encrypted=(
            "Berichten en oproepen zijn end-to-end versleuteld. Niemand buiten deze chat, "
            "zelfs WhatsApp niet, kan ze lezen of beluisteren."
        ),
        created='Jij hebt groep "{t}" aangemaakt',
        added_you="{a} heeft je toegevoegd",
        renamed='{a} heeft het onderwerp gewijzigd van "{o}" naar "{n}"',
        left="{a} heeft de groep verlaten",
    ),
    "ar": _Quirk(
        "android",
        "DMY",
        "12h",
        ("ص", "م"),
        digits=_ARABIC,
        comma="، ",
        encrypted=(
            "الرسائل والمكالمات مشفرة تمامًا بين الطرفين. لا يمكن لأحد خارج هذه الدردشة، ولا "
            "حتى WhatsApp، قراءتها أو الاستماع إليها."
        ),
        created='أنت أنشأت المجموعة "{t}"',
        added_you="{a} أضافك",
        renamed='{a} غيّر اسم المجموعة من "{o}" إلى "{n}"',
        left="{a} غادر",
    ),
    "fa": _Quirk("android", "YMD", "24h", digits=_PERSIAN, comma="، "),
    "fa-solar": _Quirk("android", "persian", "24h", digits=_PERSIAN, comma="، "),
    "vi": _Quirk(
        "android-time-first",
        "DMY",
        "12h",
        ("SA", "CH"),
        encrypted=(
            "Tin nhắn và cuộc gọi được mã hóa đầu cuối. Không ai bên ngoài đoạn chat này, kể "
            "cả WhatsApp, có thể đọc hoặc nghe chúng."
        ),
        created='Bạn đã tạo nhóm "{t}"',
        added_you="{a} đã thêm bạn",
        renamed='{a} đã đổi tên nhóm từ "{o}" thành "{n}"',
        left="{a} đã rời nhóm",
    ),
    "ru": _Quirk(
        "android",
        "DMY",
        "24h",
        sep=".",
        encrypted=(
            "Сообщения и звонки защищены сквозным шифрованием. Никто вне этого чата, даже "
            "WhatsApp, не может их прочитать или прослушать."
        ),
        created="Вы создали группу «{t}»",
        added_you="{a} добавил(а) вас",
        renamed="{a} изменил(а) тему с «{o}» на «{n}»",
        left="{a} вышел(а)",
    ),
    "tr": _Quirk(
        "android",
        "DMY",
        "24h",
        sep=".",
        encrypted=(
            "Mesajlar ve aramalar uçtan uca şifrelidir. WhatsApp dahil olmak üzere bu "
            "sohbetin dışında bulunan hiç kimse onları okuyamaz ve dinleyemez."
        ),
        created='"{t}" grubunu oluşturdunuz',
        added_you="{a} sizi ekledi",
        renamed='{a} grup konusunu "{o}" iken "{n}" olarak değiştirdi',
        left="{a} ayrıldı",
    ),
    "id": _Quirk(
        "android",
        "DMY",
        "24h",
        sep="/",
        encrypted=(
            "Pesan dan panggilan terenkripsi secara end-to-end. Tidak seorang pun di luar "
            "chat ini, termasuk WhatsApp, yang dapat membaca atau mendengarkannya."
        ),
        created='Anda membuat grup "{t}"',
        added_you="{a} menambahkan Anda",
        renamed='{a} mengubah subjek dari "{o}" ke "{n}"',
        left="{a} keluar",
    ),
    "th-buddhist": _Quirk("android", "buddhist", "24h", comma=" "),
    "th-buddhist-short": _Quirk("android", "buddhist-short", "24h", comma=" "),
    "ja-era": _Quirk("ios", "era", "24h", comma=" ", seconds=True),
    "ja-kanji": _Quirk("android", "kanji", "24h", comma=" "),
    "ja-era-plain": _Quirk(
        "android",
        "era-plain",
        "12h",
        ("午前", "午後"),
        halves_before=True,
        comma=" ",
        options=(("calendar", "japanese"),),
    ),
    "ko": _Quirk("android", "korean", "12h", ("오전", "오후"), halves_before=True, comma=" "),
    "zh": _Quirk("ios", "YMD", "12h", ("上午", "下午"), halves_before=True, comma=" ", seconds=True),
    "unreadable": _Quirk("android", "DMY", "24h"),
}

# (local time, what happens): a day above 12 settles the date order; noon, midnight and a leap day
# test the clock.
_SCRIPT: tuple[tuple[datetime, str, str | None, str | None], ...] = (
    (datetime(2023, 12, 14, 9, 5, 7), "encrypted", None, None),
    (datetime(2023, 12, 14, 9, 5, 7), "created", None, None),
    (datetime(2023, 12, 14, 12, 30, 15), "text", "Ana Lima", "first message"),
    (datetime(2023, 12, 15, 0, 8, 0), "added_you", "Ana Lima", None),
    (datetime(2024, 1, 3, 13, 34, 59), "text", "+00 555 0100 200", "two lines\nsecond line"),
    (datetime(2024, 2, 29, 23, 59, 1), "renamed", "Ana Lima", None),
    (datetime(2024, 3, 1, 7, 0, 0), "left", "Ana Lima", None),
)


def _persian(d: datetime) -> tuple[int, int, int]:
    jy = d.year - 621 if (d.month, d.day) >= (3, 21) else d.year - 622
    for y in (jy + 1, jy, jy - 1):
        start = persian_to_gregorian(y, 1, 1)
        if start is not None and start <= d.date():
            offset = (d.date() - start).days
            month = offset // 31 + 1 if offset < 186 else (offset - 186) // 30 + 7
            day = offset - (month - 1) * 31 + 1 if month <= 6 else offset - 186 - (month - 7) * 30 + 1
            return y, month, day
    raise ValueError(d)


def _quirk_date(q: _Quirk, d: datetime) -> str:
    s = q.sep
    if q.date == "DMY":
        return (
            f"{d.day:02d}{s}{d.month:02d}{s}{d.year}" if s != "/" else f"{d.day}/{d.month}/{d.year % 100:02d}"
        )
    if q.date == "MDY":
        return f"{d.month}/{d.day}/{d.year % 100:02d}"
    if q.date == "YMD":
        return f"{d.year}/{d.month:02d}/{d.day:02d}"
    if q.date == "korean":
        return f"{d.year}. {d.month}. {d.day}."
    if q.date == "buddhist":
        return f"{d.day}/{d.month}/{d.year + 543}"
    if q.date == "buddhist-short":
        return f"{d.day}/{d.month}/{(d.year + 543) % 100:02d}"
    era, n = ("R", d.year - 2018) if d.year >= 2019 else ("H", d.year - 1988)
    if q.date == "era":
        return f"{era}{n}/{d.month:02d}/{d.day:02d}"
    if q.date == "kanji":
        return f"{'令和' if era == 'R' else '平成'}{n}年{d.month}月{d.day}日"
    if q.date == "era-plain":
        return f"{n:02d}/{d.month:02d}/{d.day:02d}"
    jy, jm, jd = _persian(d)
    return f"{jy}/{jm}/{jd}"


def _quirk_clock(q: _Quirk, d: datetime) -> str:
    sec = f":{d:%S}" if q.seconds else ""
    if q.clock == "24h":
        return f"{d:%H:%M}{sec}"
    half = q.halves[d.hour >= 12]
    hm = f"{d.hour % 12 or 12}:{d:%M}{sec}"
    return f"{half}{hm}" if q.halves_before else f"{hm}{NNBSP}{half}"


def render_quirk(quirk: str, tz: tzinfo = UTC) -> QuirkExport:
    """The export of :data:`_SCRIPT` as a phone with ``quirk`` writes it, read in zone ``tz``."""
    q = QUIRKS[quirk]
    table = str.maketrans("0123456789", q.digits) if q.digits else None
    lines: list[str] = []
    expected: list[QuirkMessage] = []
    group, old, new = "Grupo 1", "Grupo 1", "Grupo 2"
    for local, what, who, text in _SCRIPT:
        day, clock = _quirk_date(q, local), _quirk_clock(q, local)
        if table:
            day, clock = day.translate(table), clock.translate(table)
            day = day.replace("/", RLM + "/")  # Arabic phones mark the direction around numbers
        stamp = f"{clock}{q.comma}{day}" if q.layout.endswith("time-first") else f"{day}{q.comma}{clock}"
        stamp = f"[{stamp}] " if q.layout == "ios" else f"{stamp} - "
        utc = local.replace(tzinfo=tz).astimezone(UTC)
        if not q.seconds:
            utc = utc.replace(second=0)
        if what == "text":
            lines.append(f"{stamp}{who}: {text}")
            expected.append(QuirkMessage(len(lines), utc, who, "text", None, text))
            lines[-1:] = lines[-1].split("\n")
            continue
        body = getattr(q, what).format(t=group, a=who, o=old, n=new)
        sender = OWNER if what == "created" else who
        lines.append(f"{stamp}{group}: {LRM}{body}" if q.layout == "ios" else f"{stamp}{body}")
        expected.append(QuirkMessage(len(lines), utc, sender, "system", what.replace("_you", ""), body))
    skipped = 0
    if quirk == "unreadable":
        # A header whose date cannot exist, with a continuation line: both skipped, never merged.
        lines[3:3] = ["31/02/2024, 10:00 - Ana Lima: a date that cannot exist", "its second line"]
        skipped = 2
        expected = [
            QuirkMessage(e.line_no + (2 if e.line_no > 3 else 0), e.time, e.sender, e.kind, e.action, e.text)
            for e in expected
        ]
    name = f"WhatsApp Chat with {group}.txt" if q.layout != "ios" else "_chat.txt"
    return QuirkExport(
        quirk, name, "".join(ln + "\n" for ln in lines), expected, len(lines), skipped, dict(q.options)
    )
