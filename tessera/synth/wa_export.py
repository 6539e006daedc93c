"""Render a patrol capture of a synthetic :class:`~tessera.synth.network.Network` group as a WhatsApp
"Export chat": the text file in Android or iOS style, a locale's wording and markers, 12- or 24-hour
clock, day- or month-first dates, optionally zipped with the media items under the marked file names.

:func:`expected_messages` returns what a correct parser must recover, derived from the same rendering.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import phonenumbers

from tessera.synth.network import Network, Post, Seizure

# Invisible marks WhatsApp writes: around phone numbers (LRE ... PDF) and before generated text (LRM).
LRE, PDF, LRM = "\u202a", "\u202c", "\u200e"
NNBSP, NBSP = "\u202f", "\u00a0"


@dataclass(frozen=True, slots=True)
class _Locale:
    android_name: str
    attached_android: str
    attached_ios: str
    omitted_android: str
    omitted_ios: str
    encrypted: str
    created: str
    added: str
    joined: str
    am_pm: tuple[str, str]


LOCALES = {
    "en": _Locale(
        "WhatsApp Chat with {title}",
        "{name} (file attached)",
        "<attached: {name}>",
        "<Media omitted>",
        "image omitted",
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, "
        "can read or listen to them. Tap to learn more.",
        "{actor} created group {q}",
        "{actor} added {target}",
        "{actor} joined using this group's invite link",
        ("AM", "PM"),
    ),
    "es": _Locale(
        "Chat de WhatsApp con {title}",
        "{name} (archivo adjunto)",
        "<adjunto: {name}>",
        "<Multimedia omitido>",
        "imagen omitida",
        "Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de este chat, ni "
        "siquiera WhatsApp, puede leerlos ni escucharlos.",
        "{actor} creó el grupo {q}",
        "{actor} añadió a {target}",
        "{actor} se unió usando el enlace de invitación de este grupo",
        (f"a.{NBSP}m.", f"p.{NBSP}m."),
    ),
    "pt": _Locale(
        "Conversa do WhatsApp com {title}",
        "{name} (arquivo anexado)",
        "<anexado: {name}>",
        "<Mídia oculta>",
        "imagem ocultada",
        "As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta. Ninguém fora "
        "desta conversa, nem mesmo o WhatsApp, pode ler ou ouvi-las.",
        "{actor} criou o grupo {q}",
        "{actor} adicionou {target}",
        "{actor} entrou usando o link de convite deste grupo",
        ("AM", "PM"),
    ),
}


@dataclass(frozen=True, slots=True)
class ExpectedMessage:
    """One visible post as a parser must return it."""

    post_id: int
    sender: str  # person key
    time: datetime  # UTC, to the minute (Android writes no seconds)
    kind: str  # text | image | other (Android "<Media omitted>" does not say which media)
    text: str | None
    file_name: str | None
    omitted: bool
    line_no: int


@dataclass
class _Rendering:
    txt_name: str
    zip_name: str
    lines: list[str]
    media: dict[str, bytes]
    expected: list[ExpectedMessage]


def post_text(post: Post) -> str:
    """A text post as written; every third one spans several lines, one of them empty."""
    text = post.text or ""
    if post.id % 3 == 0:
        text += f"\nsecond line of {post.id}\n\nlast line"
    return text


def sender_label(net: Network, key: str, style: str, names: dict[str, str] | None) -> str:
    """A contact name when ``names`` has one, else the number in international format wrapped in
    direction marks; iOS writes no-break spaces and a non-breaking hyphen inside numbers."""
    if names and key in names:
        return names[key]
    number = phonenumbers.format_number(
        phonenumbers.parse(net.people[key].phone, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    if style == "ios":
        number = number.replace(" ", NBSP).replace("-", "\u2011")
    return f"{LRE}{number}{PDF}"


def _stamp(t: datetime, style: str, clock: str, date_order: str, locale: str, tz: tzinfo) -> str:
    local = t.astimezone(tz)
    if date_order == "DMY":
        day = f"{local.day}/{local.month}/{local.year % 100:02d}" if locale == "es" else f"{local:%d/%m/%Y}"
    else:
        day = f"{local.month}/{local.day}/{local.year % 100:02d}"
    if clock == "24h":
        clock_text = f"{local:%H:%M}" + (f":{local:%S}" if style == "ios" else "")
    else:
        am, pm = LOCALES[locale].am_pm
        hour = local.hour % 12 or 12
        sec = f":{local:%S}" if style == "ios" else ""
        clock_text = f"{hour}:{local:%M}{sec}{NNBSP}{pm if local.hour >= 12 else am}"
    if style == "ios":
        return f"[{day}, {clock_text}]"
    sep = " " if locale == "pt" and clock == "24h" else ", "  # Brazilian Android drops the comma
    return f"{day}{sep}{clock_text} -"


def _render(
    net: Network,
    seizure: Seizure,
    *,
    style: str,
    locale: str,
    clock: str,
    date_order: str,
    include_media: bool,
    names: dict[str, str] | None,
    tz: tzinfo,
) -> _Rendering:
    if style not in ("android", "ios") or clock not in ("12h", "24h") or date_order not in ("DMY", "MDY"):
        raise ValueError(f"unsupported export style {style!r}/{clock!r}/{date_order!r}")
    loc = LOCALES[locale]
    group = net.groups[seizure.groups[0]]
    posts = net.visible(seizure)
    senders = {p.sender for p in posts}
    members = net.members[group.key]

    def label(key: str) -> str:
        return sender_label(net, key, style, names)

    # System lines name senders only: a capture shows the accounts that posted (Network.seen_on).
    events: list[tuple[datetime, int, str, Post | None]] = [(group.created, 0, loc.encrypted, None)]
    creator_shown = group.creator in senders
    if creator_shown:
        q = f"\u201c{group.title}\u201d" if style == "ios" else f'"{group.title}"'
        events.append((group.created, 1, loc.created.format(actor=label(group.creator), q=q), None))
    for key in sorted(senders - {group.creator}, key=lambda k: (members[k], k)):
        line = (
            loc.added.format(actor=label(group.creator), target=label(key))
            if creator_shown
            else (loc.joined.format(actor=label(key)))
        )
        events.append((members[key], 1, line, None))
    events.extend((p.time, 2, "", p) for p in posts)
    events.sort(key=lambda e: (e[0], e[1], e[3].id if e[3] else 0))

    lines: list[str] = []
    media: dict[str, bytes] = {}
    expected: list[ExpectedMessage] = []
    per_day: dict[str, int] = {}
    for n, (t, _, system_text, post) in enumerate(events, start=1):
        stamp = _stamp(t, style, clock, date_order, locale, tz)
        if post is None:
            if style == "ios":  # iOS: notices under the chat's name, text behind a left-to-right mark
                lines.append(f"{LRM}{stamp} {group.title}: {LRM}{system_text}")
            else:
                lines.append(f"{stamp} {system_text}")
            continue
        who = label(post.sender)
        file_name: str | None = None
        omitted = False
        text: str | None
        if post.kind == "image" and post.item:
            local = t.astimezone(tz)
            if include_media and style == "ios":
                file_name = f"{n:08d}-PHOTO-{local:%Y-%m-%d-%H-%M-%S}.jpg"
                body = f"{LRM}{loc.attached_ios.format(name=file_name)}"
            elif include_media:
                day = f"{local:%Y%m%d}"
                per_day[day] = per_day.get(day, -1) + 1
                file_name = f"IMG-{day}-WA{per_day[day]:04d}.jpg"
                body = loc.attached_android.format(name=file_name)
            else:
                omitted = True
                body = f"{LRM}{loc.omitted_ios}" if style == "ios" else loc.omitted_android
            if file_name:
                media[file_name] = net.items[post.item].data
            kind = "other" if omitted and style == "android" else "image"
            text = None
        else:
            kind, text = "text", post_text(post)
            body = text
        prefix = LRM if style == "ios" and kind != "text" else ""
        line_no = len(lines) + 1
        lines.append(f"{prefix}{stamp} {who}: {body}")
        when = t.astimezone(UTC).replace(second=0, microsecond=0)
        expected.append(ExpectedMessage(post.id, post.sender, when, kind, text, file_name, omitted, line_no))
        if text and "\n" in text:
            lines[-1:] = lines[-1].split("\n")
    if style == "ios":
        txt_name, zip_name = "_chat.txt", f"WhatsApp Chat - {group.title}.zip"
    else:
        base = loc.android_name.format(title=group.title)
        txt_name, zip_name = f"{base}.txt", f"{base}.zip"
    return _Rendering(txt_name, zip_name, lines, media, expected)


def write_export(
    net: Network,
    seizure: Seizure,
    out: Path,
    *,
    style: str = "android",
    locale: str = "en",
    clock: str = "24h",
    date_order: str = "DMY",
    as_zip: bool = True,
    include_media: bool = True,
    names: dict[str, str] | None = None,
    tz: tzinfo = UTC,
) -> Path:
    """Write the export of ``seizure``'s (first) group into the folder ``out``; returns the zip, or
    the text file when ``as_zip`` is false (media then lie beside it, as in an unpacked export)."""
    r = _render(
        net,
        seizure,
        style=style,
        locale=locale,
        clock=clock,
        date_order=date_order,
        include_media=include_media,
        names=names,
        tz=tz,
    )
    out.mkdir(parents=True, exist_ok=True)
    # WhatsApp ends every line, the last one included, with a line break.
    data = "".join(line + "\n" for line in r.lines).encode("utf-8")
    if as_zip:
        path = out / r.zip_name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(r.txt_name, data)
            for name, blob in r.media.items():
                zf.writestr(name, blob)
        return path
    path = out / r.txt_name
    path.write_bytes(data)
    for name, blob in r.media.items():
        (out / name).write_bytes(blob)
    return path


def expected_messages(
    net: Network,
    seizure: Seizure,
    *,
    style: str = "android",
    locale: str = "en",
    clock: str = "24h",
    date_order: str = "DMY",
    include_media: bool = True,
    names: dict[str, str] | None = None,
    tz: tzinfo = UTC,
) -> list[ExpectedMessage]:
    """The posts :func:`write_export` writes with the same arguments, as a parser must return them."""
    return _render(
        net,
        seizure,
        style=style,
        locale=locale,
        clock=clock,
        date_order=date_order,
        include_media=include_media,
        names=names,
        tz=tz,
    ).expected
