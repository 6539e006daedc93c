"""WhatsApp "Export chat" parser against generated exports with ground truth, and hand-written edge cases.

All data is invented: synthetic people with random numbers, abstract generated images.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from tessera.evidence import Limits, iter_evidence, open_item
from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.whatsapp_export import WhatsAppExportParser, chat_title
from tessera.records import Opener
from tessera.synth.network import Network, Seizure, make_network
from tessera.synth.wa_export import ExpectedMessage, expected_messages, write_export

PARSER = WhatsAppExportParser()


@pytest.fixture(scope="module")
def net() -> Network:
    return make_network(
        7, n_people=14, n_wa_groups=3, n_tg_groups=0, n_items=6, n_posts=70, image_size=(32, 24)
    )


@pytest.fixture(scope="module")
def capture(net: Network) -> Seizure:
    caps = [s for s in net.seizures if s.kind == "capture"]
    return max(caps, key=lambda s: len(net.visible(s)))


def parse_text(
    text: str | bytes, locator: str = "/x/WhatsApp Chat with Group 01.txt", **kw: Any
) -> list[Any]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(PARSER.parse(ParseContext(locator, Opener(data=data), Path("/nonexistent"), **kw)))


def parse_evidence(root: Path, scratch: Path, **kw: Any) -> tuple[str, list[MessagingRecord]]:
    """Walk ``root`` like the pipeline: find the export by detect(), resolve siblings in its folder."""
    items = {i.locator: i for i in iter_evidence(root, Limits(scratch_dir=scratch))}
    found = []
    for item in items.values():
        if item.opener is None:
            continue
        with open_item(item.opener) as fh:
            head = fh.read(8192)
        if PARSER.detect(item.locator, head):
            found.append(item)
    assert len(found) == 1, [i.locator for i in found]
    chat = found[0]
    assert chat.opener is not None
    folder = chat.locator.rsplit("/", 1)[0]

    def sibling(name: str) -> Opener | None:
        item = items.get(f"{folder}/{name}")
        return item.opener if item else None

    ctx = ParseContext(chat.locator, chat.opener, scratch, sibling, **kw)
    return chat.locator, list(PARSER.parse(ctx))


def posts_of(records: list[Any]) -> list[MessageRecord]:
    return [r for r in records if isinstance(r, MessageRecord) and r.kind != "system"]


def e164(text: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(text, None), phonenumbers.PhoneNumberFormat.E164)


def check_against_truth(
    net: Network, records: list[Any], truth: list[ExpectedMessage], names: dict[str, str] | None = None
) -> None:
    accounts = {r.raw_id: r for r in records if isinstance(r, AccountRecord)}
    got = posts_of(records)
    assert len(got) == len(truth)
    for msg, exp in zip(got, truth, strict=True):
        assert msg.sender is not None
        if names:
            assert msg.sender == names[exp.sender]
        else:
            phone = accounts[msg.sender].phone
            assert phone is not None and e164(phone) == net.people[exp.sender].phone
        assert msg.time.tzinfo is not None and msg.time.utcoffset() == timedelta(0)
        assert msg.time.replace(second=0) == exp.time
        assert msg.kind == exp.kind
        assert msg.text == exp.text
        assert msg.locator is not None and msg.locator.endswith(f"#L{exp.line_no}")
        if exp.file_name or exp.omitted:
            assert msg.media is not None
            assert msg.media.file_name == exp.file_name and msg.media.path == exp.file_name
            assert msg.media.omitted == exp.omitted
        else:
            assert msg.media is None


# --- ground truth matrix -------------------------------------------------------------------------

MATRIX = list(itertools.product(("android", "ios"), ("en", "es", "pt"), ("12h", "24h"), ("DMY", "MDY")))


@pytest.mark.parametrize(("style", "locale", "clock", "date_order"), MATRIX)
def test_matrix_matches_ground_truth(
    net: Network, capture: Seizure, tmp_path: Path, style: str, locale: str, clock: str, date_order: str
) -> None:
    opts: dict[str, Any] = {"style": style, "locale": locale, "clock": clock, "date_order": date_order}
    write_export(net, capture, tmp_path / "ev", **opts)
    truth = expected_messages(net, capture, **opts)
    assert any(e.file_name for e in truth) and any(e.text and "\n" in e.text for e in truth)
    _, records = parse_evidence(tmp_path / "ev", tmp_path)
    check_against_truth(net, records, truth)
    msgs = [r for r in records if isinstance(r, MessageRecord)]
    assert all(m.raw["date_order"] == date_order and "date_order_ambiguous" not in m.raw for m in msgs)
    assert all(m.raw["attachment_found"] for m in msgs if m.media and not m.media.omitted)
    chat = next(r for r in records if isinstance(r, ChatRecord))
    title = net.groups[capture.groups[0]].title
    assert (chat.raw_id, chat.title, chat.kind, chat.platform) == (title, title, "group", "whatsapp")
    system = [m for m in msgs if m.kind == "system"]
    assert system[0].action == "encrypted"
    assert {m.action for m in system} <= {"encrypted", "created", "added", "joined"}
    assert all(
        m.sender is None or m.sender in {a.raw_id for a in records if isinstance(a, AccountRecord)}
        for m in msgs
    )
    # System lines only name senders: the capture shows exactly the accounts that posted.
    senders = {m.sender for m in posts_of(records)}
    assert {a.raw_id for a in records if isinstance(a, AccountRecord)} == senders


@pytest.mark.parametrize("style", ["android", "ios"])
def test_without_media_and_with_contact_names(
    net: Network, capture: Seizure, tmp_path: Path, style: str
) -> None:
    names = {k: f"Contact {k[1:]}" for k in net.people}
    for locale in ("en", "es", "pt"):
        out = tmp_path / locale
        write_export(net, capture, out, style=style, locale=locale, include_media=False, names=names)
        truth = expected_messages(net, capture, style=style, locale=locale, include_media=False, names=names)
        assert any(e.omitted for e in truth)
        _, records = parse_evidence(out, tmp_path)
        check_against_truth(net, records, truth, names)
        accounts = [r for r in records if isinstance(r, AccountRecord)]
        assert accounts and all(a.phone is None and a.display_name == a.raw_id for a in accounts)


def test_unzipped_folder_finds_attachments_beside(net: Network, capture: Seizure, tmp_path: Path) -> None:
    path = write_export(net, capture, tmp_path / "ev", as_zip=False)
    assert path.suffix == ".txt"
    _, records = parse_evidence(tmp_path / "ev", tmp_path / "scratch")
    media = [m for m in posts_of(records) if m.media]
    assert media and all(m.raw["attachment_found"] for m in media)


@pytest.mark.parametrize("style", ["android", "ios"])
def test_zip_end_to_end_member_and_sibling(
    net: Network, capture: Seizure, tmp_path: Path, style: str
) -> None:
    zip_path = write_export(net, capture, tmp_path / "ev", style=style)
    locator, records = parse_evidence(tmp_path / "ev", tmp_path)
    inner = "_chat.txt" if style == "ios" else zip_path.stem + ".txt"
    assert locator == f"/{zip_path.name}!/{inner}"
    items = {i.locator: i for i in iter_evidence(tmp_path / "ev", Limits(scratch_dir=tmp_path))}
    by_post = dict(
        zip([e.post_id for e in expected_messages(net, capture, style=style)], posts_of(records), strict=True)
    )
    for post in net.visible(capture):
        if post.item is None:
            continue
        msg = by_post[post.id]
        assert msg.media is not None and msg.media.path
        member = items[f"/{zip_path.name}!/{msg.media.path}"]
        assert member.opener is not None
        with open_item(member.opener) as fh:
            assert fh.read() == net.items[post.item].data  # (Item.sha256 is broken: slots + cached_property)
        assert msg.locator is not None and msg.locator.startswith(locator + "#L")


def test_local_timezone(net: Network, capture: Seizure, tmp_path: Path) -> None:
    madrid = ZoneInfo("Europe/Madrid")
    write_export(net, capture, tmp_path / "ev", style="ios", tz=madrid)
    truth = expected_messages(net, capture, style="ios", tz=madrid)
    _, records = parse_evidence(tmp_path / "ev", tmp_path, local_tz=madrid)
    check_against_truth(net, records, truth)
    # Read as UTC instead, every time is off by Madrid's offset at that moment (CET or CEST).
    _, naive = parse_evidence(tmp_path / "ev", tmp_path)
    for msg, exp in zip(posts_of(naive), truth, strict=True):
        offset = exp.time.astimezone(madrid).utcoffset()
        assert offset is not None and msg.time.replace(second=0) - exp.time == offset


# --- hand-written edge cases ---------------------------------------------------------------------

MARKED = (
    "\ufeff\u200e01/03/2024, 10:00 - \u202a+34 612 34 56 78\u202c: \u2066hola\u2069\n"
    "14/03/2024, 22:15 - \u202b\u200fJuan\u200f\u202c: IMG-20240314-WA0003.jpg\u200e (archivo adjunto)\n"
    "pie de foto\n"
)


def test_direction_marks_and_bom_are_stripped() -> None:
    recs = parse_text(MARKED, "/Chat de WhatsApp con Grupo.txt")
    msgs = posts_of(recs)
    assert msgs[0].sender == "+34 612 34 56 78" and msgs[0].text == "hola"
    assert msgs[0].time == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert msgs[1].sender == "Juan" and msgs[1].kind == "image" and msgs[1].text == "pie de foto"
    assert msgs[1].media is not None and msgs[1].media.file_name == "IMG-20240314-WA0003.jpg"
    accounts = {r.raw_id: r for r in recs if isinstance(r, AccountRecord)}
    assert accounts["+34 612 34 56 78"].phone == "+34 612 34 56 78" and accounts["Juan"].phone is None
    chat = recs[0]
    assert isinstance(chat, ChatRecord) and chat.raw_id == "Grupo" and chat.kind == "private"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2024-03-01, 10:00 - A: x", datetime(2024, 3, 1, 10, 0)),
        ("[2024-03-01, 10:00:05] A: x", datetime(2024, 3, 1, 10, 0, 5)),
        ("13.03.24, 10:00 - A: x", datetime(2024, 3, 13, 10, 0)),
        ("13-03-2024 10:00 - A: x", datetime(2024, 3, 13, 10, 0)),
        ("3/13/24, 10:00\u202fPM - A: x", datetime(2024, 3, 13, 22, 0)),
        ("3/13/24, 12:05 AM - A: x", datetime(2024, 3, 13, 0, 5)),
        ("3/13/24, 12:30 pm - A: x", datetime(2024, 3, 13, 12, 30)),
        ("13/3/24, 9:30 p.\u00a0m. - A: x", datetime(2024, 3, 13, 21, 30)),
        ("13/3/24, 9:30 a. m. - A: x", datetime(2024, 3, 13, 9, 30)),
        ("[13/3/24, 9:30:00 p. m.] A: x", datetime(2024, 3, 13, 21, 30)),
        ("[3/13/24 9:30:00\u202fAM] A: x", datetime(2024, 3, 13, 9, 30)),
    ],
)
def test_date_and_clock_variants(line: str, expected: datetime) -> None:
    (msg,) = posts_of(parse_text(line + "\n"))
    assert msg.time == expected.replace(tzinfo=UTC) and msg.sender == "A" and msg.text == "x"


def test_ambiguous_dates_use_hint_or_default() -> None:
    text = "01/02/2024, 10:00 - A: x\n03/04/2024, 10:00 - B: y\n"
    (msg, _) = posts_of(parse_text(text))
    assert msg.time.month == 2 and msg.raw["date_order_ambiguous"] == "default"
    (msg, _) = posts_of(parse_text(text, options={"date_order": "M/D/Y"}))
    assert msg.time.month == 1 and msg.raw["date_order_ambiguous"] == "option"
    # A day above 12 anywhere in the file overrides the hint.
    (msg, *_) = posts_of(parse_text(text + "25/04/2024, 10:00 - A: z\n", options={"date_order": "MDY"}))
    assert msg.time.month == 2 and "date_order_ambiguous" not in msg.raw
    with pytest.raises(ParseError, match="date_order"):
        parse_text(text, options={"date_order": "QQQ"})


SYSTEM_ES = (
    "01/03/2024, 10:00 - Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera.\n"
    '01/03/2024, 10:00 - Creaste el grupo "Grupo Uno"\n'
    "01/03/2024, 10:01 - Añadiste a Ana, \u202a+34 612 34 56 78\u202c y Luis\n"
    "01/03/2024, 10:02 - Ana añadió a Pepe\n"
    "13/03/2024, 10:03 - Luis salió del grupo\n"
    "13/03/2024, 10:04 - Ana eliminó a Pepe\n"
    "13/03/2024, 10:05 - Pepe se unió usando el enlace de invitación de este grupo\n"
    '13/03/2024, 10:06 - Ana cambió el asunto de "Grupo Uno" a "Grupo: Dos"\n'
    "13/03/2024, 10:07 - Ana: Se eliminó este mensaje.\n"
    "13/03/2024, 10:08 - Ana: hola <Se editó este mensaje.>\n"
)


def test_spanish_system_lines() -> None:
    recs = parse_text(SYSTEM_ES, "/some/chat.txt")
    msgs = [r for r in recs if isinstance(r, MessageRecord)]
    acts = [(m.action, m.sender, m.targets, m.from_me) for m in msgs if m.kind == "system"]
    # The owner ("Creaste", "Añadiste") is the device owner's account, not a sender of its own.
    owner = "whatsapp:owner@device"
    assert acts == [
        ("encrypted", None, [], False),
        ("created", owner, [], True),
        ("added", owner, ["Ana", "+34 612 34 56 78", "Luis"], True),
        ("added", "Ana", ["Pepe"], False),
        ("left", "Luis", [], False),
        ("removed", "Ana", ["Pepe"], False),
        ("joined", "Pepe", [], False),
        ("renamed", "Ana", [], False),
    ]
    chat = recs[0]
    # No export name: the title comes from the creation line.
    assert isinstance(chat, ChatRecord) and chat.raw_id == "Grupo Uno" and chat.kind == "group"
    assert msgs[7].raw["title"] == "Grupo: Dos" and msgs[7].raw["old_title"] == "Grupo Uno"
    owners = [r for r in recs if isinstance(r, AccountRecord) and r.is_device_owner]
    assert [o.raw_id for o in owners] == [owner]
    assert msgs[8].kind == "other" and msgs[8].raw["deleted"] and msgs[8].text is None
    assert msgs[9].text == "hola" and msgs[9].raw["edited"]
    members = [
        (m.account, m.joined_at is not None, m.left_at is not None)
        for m in recs
        if isinstance(m, MembershipRecord)
    ]
    assert ("Luis", False, True) in members and ("Pepe", True, False) in members


def test_portuguese_and_english_system_lines() -> None:
    pt = (
        '01/03/2024 10:00 - Bia criou o grupo "Grupo"\n'
        "01/03/2024 10:01 - Bia adicionou Caio e Duda\n"
        "13/03/2024 10:02 - Caio saiu\n"
        "13/03/2024 10:03 - Duda: <Mídia oculta>\n"
        "13/03/2024 10:04 - Duda: DOC-20240313-WA0001.pdf (arquivo anexado)\n"
    )
    msgs = [r for r in parse_text(pt) if isinstance(r, MessageRecord)]
    assert [(m.action, m.sender, m.targets) for m in msgs[:3]] == [
        ("created", "Bia", []),
        ("added", "Bia", ["Caio", "Duda"]),
        ("left", "Caio", []),
    ]
    assert msgs[3].kind == "other" and msgs[3].media is not None and msgs[3].media.omitted
    assert msgs[4].kind == "document"
    en = "[01/03/2024, 10:00:00] Grp: \u200eAnn added you and Bob\n[01/03/2024, 10:00:01] Ann: Bob left\n"
    msgs = [r for r in parse_text(en, "/WhatsApp Chat - Grp/_chat.txt") if isinstance(r, MessageRecord)]
    # "you" is the device owner: a target like any other, under the owner's account.
    assert (msgs[0].kind, msgs[0].sender, msgs[0].targets) == (
        "system",
        "Ann",
        ["whatsapp:owner@device", "Bob"],
    )
    assert msgs[0].raw["exporter_targeted"]
    # Typed words that look like a notice stay a message: no left-to-right mark, not the chat's name.
    assert (msgs[1].kind, msgs[1].sender, msgs[1].text) == ("text", "Ann", "Bob left")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n",
        b"hello world\nthis is a note\n",
        bytes(range(256)) * 40,
        b"%PDF-1.4\n" + b"x" * 5000,
    ],
)
def test_garbage_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match="not a WhatsApp chat export"):
        parse_text(data, "/notes.txt")


def test_truncated_file_parses_what_is_there(net: Network, capture: Seizure, tmp_path: Path) -> None:
    path = write_export(net, capture, tmp_path, as_zip=False, include_media=False)
    data = path.read_bytes()
    truth = expected_messages(net, capture, include_media=False)
    full = posts_of(parse_text(data, str(path)))
    assert len(full) == len(truth) and not any("truncated" in m.raw for m in full)
    for cut in range(len(data) - 120, len(data) - 1):  # every cut in the last lines, mid-character too
        records = parse_text(data[:cut], str(path))
        msgs = posts_of(records)
        assert len(msgs) >= len(truth) - 2
        last = [r for r in records if isinstance(r, MessageRecord)][-1]
        # A cut right after a line break cannot be told from a complete file.
        assert last.raw.get("truncated", False) is not data[:cut].endswith(b"\n")
        for got, exp in zip(msgs[:-1], full, strict=False):
            assert (got.sender, got.time, got.text) == (exp.sender, exp.time, exp.text)
    # A cut header is kept out of the previous message's text.
    text = "01/03/2024, 10:00 - A: complete\n01/03/2024, 10:0"
    (msg,) = posts_of(parse_text(text))
    assert msg.text == "complete" and msg.raw["truncated_tail"] == "01/03/2024, 10:0"


@pytest.mark.parametrize(
    ("locator", "head", "expected"),
    [
        ("/WhatsApp Chat - G.zip!/_chat.txt", b"", True),
        ("/a/WhatsApp Chat with G.txt", b"12/03/2024, 10:00 - A: x\n", True),
        ("/a/notes.txt", "\ufeff\u200e[12/03/2024, 10:00:00] A: x\n".encode(), True),
        ("/a/notes.txt", b"shopping list\nmilk\n", False),
        ("/a/photo.jpg", b"12/03/2024, 10:00 - A: x\n", False),
        ("/a/notes.txt", bytes(range(256)), False),
    ],
)
def test_detect(locator: str, head: bytes, expected: bool) -> None:
    assert PARSER.detect(locator, head) is expected


@pytest.mark.parametrize(
    ("locator", "title"),
    [
        ("/chat.zip!/WhatsApp Chat with Group 01.txt", "Group 01"),
        ("/d/WhatsApp Chat with Group 01 (1).txt", "Group 01"),
        ("/WhatsApp Chat - Group 01.zip!/_chat.txt", "Group 01"),
        ("/exports/WhatsApp Chat - Group 01/_chat.txt", "Group 01"),
        ("/Conversa do WhatsApp com +55 11 91234-5678.txt", "+55 11 91234-5678"),
        ("/Chat de WhatsApp con Grupo.txt", "Grupo"),
        ("/_chat.txt", None),
        ("/notes.txt", None),
    ],
)
def test_chat_title_rule(locator: str, title: str | None) -> None:
    assert chat_title(locator) == title


def test_registered_and_private_chat_fallback_id() -> None:
    assert isinstance(PARSERS.get("whatsapp-export"), WhatsAppExportParser)
    recs = parse_text("01/03/2024, 10:00 - A: x\n01/03/2024, 10:01 - B: y\n", "/_chat.txt")
    chat = recs[0]
    assert isinstance(chat, ChatRecord) and chat.raw_id == "/_chat.txt" and chat.title is None
    assert chat.kind == "private"


def test_continuation_and_lines_before_first_message() -> None:
    sibling_calls: list[str] = []

    def sibling(name: str) -> Opener | None:
        sibling_calls.append(name)
        return None

    text = (
        "preamble\n[01/03/2024, 10:00:00] A: \u200e<attached: 00000001-VIDEO-2024-03-01-10-00-00.mp4>\n"
        "[01/03/2024, 10:00:02] A: line 1\n\nline 3 [not a header]\n"
    )
    recs = parse_text(text, "/WhatsApp Chat - G.zip!/_chat.txt", sibling=sibling)
    video, multi = posts_of(recs)
    assert video.kind == "video" and "attachment_found" not in video.raw
    assert sibling_calls == ["00000001-VIDEO-2024-03-01-10-00-00.mp4"]
    assert multi.text == "line 1\n\nline 3 [not a header]"


@pytest.mark.parametrize(
    ("body", "kind", "file_name", "omitted"),
    [
        (
            "\u200e<attached: 00000012-PHOTO-2024-03-01-10-00-00.jpg>",
            "image",
            "00000012-PHOTO-2024-03-01-10-00-00.jpg",
            False,
        ),
        (
            "caption \u200e<adjunto: 00000013-AUDIO-2024-03-01-10-00-00.opus>",
            "audio",
            "00000013-AUDIO-2024-03-01-10-00-00.opus",
            False,
        ),
        (
            "<anexado: 00000014-STICKER-2024-03-01-10-00-00.webp>",
            "sticker",
            "00000014-STICKER-2024-03-01-10-00-00.webp",
            False,
        ),
        (
            "<Anhang: 00000015-VIDEO-2024-03-01-10-00-00.mp4>",
            "video",
            "00000015-VIDEO-2024-03-01-10-00-00.mp4",
            False,
        ),
        ("\u200evideo omitido", "video", None, True),
        ("\u200efigurinha omitida", "sticker", None, True),
        ("\u200edocument omitted", "document", None, True),
    ],
)
def test_ios_markers(body: str, kind: str, file_name: str | None, omitted: bool) -> None:
    (msg,) = posts_of(parse_text(f"[01/03/2024, 10:00:00] A: {body}\n", "/WhatsApp Chat - G.zip!/_chat.txt"))
    assert (msg.kind, msg.media and msg.media.file_name, msg.media and msg.media.omitted) == (
        kind,
        file_name,
        omitted,
    )
    assert msg.text == ("caption" if body.startswith("caption") else None)


@pytest.mark.parametrize(
    ("body", "kind", "omitted"),
    [
        ("PTT-20240301-WA0002.opus (file attached)", "audio", False),
        ("VID-20240301-WA0003.mp4 (Datei angehängt)", "video", False),
        ("STK-20240301-WA0004.webp (fichier joint)", "sticker", False),
        ("<Médias omis>", "other", True),
        ("null", "other", True),
    ],
)
def test_android_markers(body: str, kind: str, omitted: bool) -> None:
    (msg,) = posts_of(parse_text(f"01/03/2024, 10:00 - A: {body}\n"))
    assert msg.kind == kind and msg.media is not None and msg.media.omitted is omitted


def test_mangled_exports_never_crash(net: Network, capture: Seizure, tmp_path: Path) -> None:
    """Corrupted evidence gives records or a ParseError, never another exception."""
    data = write_export(net, capture, tmp_path, style="ios", as_zip=False).read_bytes()[:4000]
    rng = random.Random(3)
    for _ in range(300):
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            pos = rng.randrange(len(b))
            op = rng.random()
            if op < 0.4:
                b[pos] = rng.randrange(256)
            elif op < 0.7:
                del b[pos : pos + rng.randint(1, 30)]
            else:
                b[pos:pos] = rng.choice(
                    [b"\n", b"[", b"]", b": ", b" - ", "\u200e".encode(), b"13/31/99, ", b"PM"]
                )
        with contextlib.suppress(ParseError):
            parse_text(bytes(b), "/WhatsApp Chat - G.zip!/_chat.txt")
