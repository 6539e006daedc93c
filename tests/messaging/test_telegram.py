"""Telegram Desktop export parser: round trips against the synthetic network's ground truth, service
messages and memberships, placeholders, streaming memory, malformed input, detection."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.telegram import TelegramExportParser, chat_raw_id, flatten_text, is_skipped
from tessera.records import Opener
from tessera.synth.network import Network, Post, Seizure, make_network
from tessera.synth.telegram import SKIPPED, write_telegram_export

PARSER = TelegramExportParser()


def _ctx(path: Path, tz: Any = None) -> ParseContext:
    def sibling(rel: str) -> Opener | None:
        p = path.parent / rel
        return Opener(path=str(p)) if p.is_file() else None

    return ParseContext(str(path), Opener(path=str(path)), path.parent, sibling=sibling, local_tz=tz)


def _parse(path: Path, tz: Any = None) -> list[MessagingRecord]:
    return list(PARSER.parse(_ctx(path, tz)))


def _of(records: list[MessagingRecord], cls: type) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


@pytest.fixture(scope="module")
def net() -> Network:
    return make_network(2, n_tg_groups=2)


@pytest.fixture(scope="module")
def phone(net: Network) -> Seizure:
    """A phone whose owner is in both Telegram groups, joined after their creation (a partial view)."""
    tg = [g for g in net.groups.values() if g.platform == "telegram"]
    owner = sorted(set(net.members[tg[0].key]) & set(net.members[tg[1].key]))[0]
    return Seizure("T-99", "phone", owner, "telegram", tuple(g.key for g in tg))


def _check_round_trip(
    net: Network, seizure: Seizure, records: list[MessagingRecord], root: Path, *, whole: bool = True
) -> None:
    chats = {c.raw_id: c for c in _of(records, ChatRecord)}
    msgs = _of(records, MessageRecord)
    accounts = {a.raw_id: a for a in _of(records, AccountRecord)}
    origin: dict[str, str] = {}
    for p in sorted(net.posts, key=lambda p: (p.time, p.id)):
        if p.item and not p.forwarded:
            origin.setdefault(p.item, net.people[p.sender].name)
    # Only a whole-account export says whose it is; a single chat has no personal_information.
    owner_id = f"user{net.people[seizure.owner].tg_id}" if seizure.owner and whole else None
    for g in seizure.groups:
        group = net.groups[g]
        raw = f"channel{group.tg_id}"
        chat = chats[raw]
        assert (chat.title, chat.kind, chat.created_at) == (group.title, "group", group.created)
        assert chat.creator == f"user{net.people[group.creator].tg_id}"
        posts: list[Post] = sorted(
            (p for p in net.visible(seizure) if p.group == g), key=lambda p: (p.time, p.id)
        )
        got = [m for m in msgs if m.chat == raw and m.kind != "system"]
        assert len(got) == len(posts) > 0
        for m, p in zip(got, posts, strict=True):
            person = net.people[p.sender]
            assert m.sender == f"user{person.tg_id}" and accounts[m.sender].display_name == person.name
            assert m.time == p.time and m.time.tzinfo is not None
            assert m.kind == p.kind and m.forwarded == p.forwarded
            assert m.text == p.text
            assert m.from_me == (m.sender == owner_id)
            assert m.locator == f"{root / 'result.json'}#chat/{group.tg_id}/message/{m.raw_id}"
            if p.forwarded:
                assert m.forwarded_from == origin[p.item or ""]
            if p.item:
                assert m.media is not None and m.media.path and not m.media.omitted
                assert (root / m.media.path).read_bytes() == net.items[p.item].data
            else:
                assert m.media is None


def test_whole_account_round_trip(net: Network, phone: Seizure, tmp_path: Path) -> None:
    path = write_telegram_export(net, phone, tmp_path)
    records = _parse(path)
    _check_round_trip(net, phone, records, tmp_path)
    assert any(m.forwarded for m in _of(records, MessageRecord))
    # ChatRecord first for each chat, then its messages; every sender named before its first message.
    seen: set[str] = set()
    for r in records:
        if isinstance(r, AccountRecord):
            seen.add(r.raw_id)
        elif isinstance(r, MessageRecord) and r.sender:
            assert r.sender in seen
    owner = net.people[phone.owner or ""]
    mine = [a for a in _of(records, AccountRecord) if a.is_device_owner]
    assert len(mine) == 1 and mine[0].raw_id == f"user{owner.tg_id}" and mine[0].username == owner.tg_username
    assert mine[0].display_name == owner.name and mine[0].phone
    num = phonenumbers.parse(mine[0].phone)
    assert phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) == owner.phone
    contacts = [a for a in _of(records, AccountRecord) if a.locator and "#contacts/" in a.locator]
    assert contacts and all(a.phone and a.raw_id.startswith("user") for a in contacts)


def test_single_chat_round_trip(net: Network, tmp_path: Path) -> None:
    seizure = next(s for s in net.seizures if s.format == "telegram")
    path = write_telegram_export(net, seizure, tmp_path, whole_account=False)
    head = json.loads(path.read_text())
    assert set(head) == {"name", "type", "id", "messages"}
    records = _parse(path)
    _check_round_trip(net, seizure, records, tmp_path, whole=False)
    assert not any(a.is_device_owner for a in _of(records, AccountRecord))
    assert all(m.media.path.startswith("photos/") for m in _of(records, MessageRecord) if m.media)
    with pytest.raises(ValueError):
        write_telegram_export(net, Seizure("X", "phone", None, "telegram", ()), tmp_path, whole_account=False)


def test_service_messages_and_memberships(net: Network, phone: Seizure, tmp_path: Path) -> None:
    records = _parse(write_telegram_export(net, phone, tmp_path))
    accounts = {a.raw_id for a in _of(records, AccountRecord)}
    for g in phone.groups:
        group, raw = net.groups[g], f"channel{net.groups[g].tg_id}"
        system = [m for m in _of(records, MessageRecord) if m.chat == raw and m.kind == "system"]
        assert [m.action for m in system].count("created") == 1
        assert len(system) == len(net.members[g])  # creation, then one invite or join per member
        assert {m.action for m in system} == {"created", "added", "joined"}
        assert all(m.targets for m in system if m.action == "added")
        ms = {m.account: m for m in _of(records, MembershipRecord) if m.chat == raw}
        for key, joined in net.members[g].items():
            person = net.people[key]
            uid = f"user{person.tg_id}"
            # invited by name: resolved to the id where the export ties the name to one
            account = uid if uid in ms else person.name
            assert account in ms, (key, sorted(ms))
            assert ms[account].joined_at == joined and ms[account].left_at is None
            assert ms[account].role == ("creator" if key == group.creator else "member")
            assert account == person.name or uid in accounts


def _export(messages: list[Any], **chat: Any) -> dict[str, Any]:
    return {"name": "Test chat", "type": "private_group", "id": 4242, **chat, "messages": messages}


def _msg(mid: int, **fields: Any) -> dict[str, Any]:
    t = datetime(2024, 3, 1, 10, 0, mid, tzinfo=UTC)
    base = {
        "id": mid,
        "type": "message",
        "date": "2024-03-01T11:00:00",
        "date_unixtime": str(int(t.timestamp())),
    }
    if fields.get("type") != "service":  # service messages name an actor instead
        base.update({"from": "Alpha Tester", "from_id": "user111"})
    return {**base, **fields}


def _write(tmp_path: Path, obj: Any, name: str = "result.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    return path


def test_hand_written_details(tmp_path: Path) -> None:
    svc = {"type": "service", "actor": "Alpha Tester", "actor_id": "user111"}
    msgs = [
        _msg(1, **svc, action="create_group", title="T", members=["Bravo Tester", "Charlie Tester"]),
        _msg(2, text=["hi ", {"type": "bold", "text": "there"}, {"type": "link", "text": " x.example"}]),
        _msg(3, photo=SKIPPED, width=10, height=10, text=""),
        _msg(4, file="files/clip.mp4", media_type="video_file", mime_type="video/mp4", file_size=12),
        _msg(
            5,
            file="(File exceeds maximum size. Change data exporting settings to download.)",
            media_type="voice_message",
            mime_type="audio/ogg",
        ),
        _msg(6, file="stickers/s.webp", media_type="sticker"),
        _msg(7, file="files/a.pdf", mime_type="application/pdf", forwarded_from=None),
        _msg(8, contact_information={"first_name": "X", "last_name": "", "phone_number": "+1"}),
        {"id": 9, "type": "unsupported"},
        _msg(
            10,
            **{**svc, "actor": "Bravo Tester", "actor_id": "user222"},
            action="remove_members",
            members=["Bravo Tester"],
        ),
        _msg(11, **svc, action="remove_members", members=["Charlie Tester"]),
        _msg(
            12,
            **{**svc, "actor": "Delta Tester", "actor_id": "user444"},
            action="join_group_by_link",
            inviter="Alpha Tester",
        ),
        _msg(13, **svc, action="pin_message", message_id=2),
        _msg(
            14, text="plain", forwarded_from="Echo Channel", saved_from="Echo Channel", reply_to_message_id=2
        ),
    ]
    records = _parse(_write(tmp_path, _export(msgs)))
    chat = _of(records, ChatRecord)[0]
    assert (chat.raw_id, chat.kind, chat.creator) == ("chat4242", "group", "user111")
    by_id = {m.raw_id: m for m in _of(records, MessageRecord)}
    assert "9" not in by_id  # unsupported: the exporter writes no date or content
    assert by_id["1"].kind == "system" and by_id["1"].action == "created"
    assert by_id["1"].targets == ["Bravo Tester", "Charlie Tester"]
    assert by_id["2"].text == "hi there x.example"
    assert by_id["3"].kind == "image" and by_id["3"].media and by_id["3"].media.omitted
    assert by_id["3"].media.path is None and by_id["3"].text is None
    m4 = by_id["4"].media
    assert (
        by_id["4"].kind == "video"
        and m4
        and (m4.path, m4.mime, m4.size, m4.file_name) == ("files/clip.mp4", "video/mp4", 12, "clip.mp4")
    )
    assert by_id["5"].kind == "audio" and by_id["5"].media and by_id["5"].media.omitted
    assert by_id["6"].kind == "sticker"
    assert by_id["7"].kind == "document" and by_id["7"].forwarded and by_id["7"].forwarded_from is None
    assert by_id["8"].kind == "other"
    assert by_id["10"].action == "left" and by_id["11"].action == "removed"
    assert by_id["12"].action == "joined" and by_id["13"].action == "pinned"
    assert by_id["14"].forwarded_from == "Echo Channel" and by_id["14"].raw["reply_to_message_id"] == 2
    ms = _of(records, MembershipRecord)
    got = {(m.account, m.role, m.joined_at is not None, m.left_at is not None) for m in ms}
    assert got == {
        ("user111", "creator", True, False),
        ("user222", "member", True, False),  # "Bravo Tester" resolved: user222 acted under that name
        ("Charlie Tester", "member", True, False),  # never tied to an id: the name is the account
        ("user222", None, False, True),
        ("Charlie Tester", None, False, True),
        ("user444", "member", True, False),
    }
    assert "Charlie Tester" in {a.raw_id for a in _of(records, AccountRecord)}


def test_local_dates_are_read_in_the_zone_or_utc(tmp_path: Path) -> None:
    """Changed: a local date without a zone no longer stops the parse; it is read as UTC and says so."""
    msg = _msg(1, text="old export")
    del msg["date_unixtime"]
    path = _write(tmp_path, _export([msg]))
    ctx = _ctx(path)
    rec = _of(list(PARSER.parse(ctx)), MessageRecord)[0]
    assert rec.time == datetime(2024, 3, 1, 11, 0, tzinfo=UTC)  # the clock as written, read as UTC
    assert rec.raw["date"] == "2024-03-01T11:00:00" and rec.raw["date_zone"] == "UTC"
    assert rec.raw["date_zone_assumed"] is True
    assert any("read as UTC because no time zone was set" in n for n in ctx.coverage.notes)
    ctx = _ctx(path, ZoneInfo("Europe/Madrid"))
    rec = _of(list(PARSER.parse(ctx)), MessageRecord)[0]
    assert rec.time == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)  # 11:00 CET
    assert rec.raw["date_zone"] == "Europe/Madrid" and "date_zone_assumed" not in rec.raw
    assert ctx.coverage.status() == "complete"


def test_synth_placeholders_become_omitted(net: Network, phone: Seizure, tmp_path: Path) -> None:
    path = write_telegram_export(net, phone, tmp_path, include_media=False)
    assert not (tmp_path / "chats").exists()
    media = [m.media for m in _of(_parse(path), MessageRecord) if m.kind == "image"]
    assert media and all(m and m.omitted and m.path is None for m in media)
    assert is_skipped(SKIPPED) and not is_skipped("photos/photo_1@01-03-2024_10-00-00.jpg")


@pytest.mark.parametrize("n_posts", [30_000, pytest.param(200_000, marks=pytest.mark.slow)])
def test_streaming_memory_is_bounded(tmp_path: Path, n_posts: int) -> None:
    """Python allocations stay ~0.2 MB whether the export is 8 MB (30k messages) or 57 MB (200k)."""
    big = make_network(5, n_wa_groups=0, n_tg_groups=1, n_items=2, n_posts=n_posts, image_size=(32, 24))
    seizure = next(s for s in big.seizures if s.format == "telegram")
    path = write_telegram_export(big, seizure, tmp_path, include_media=False)
    size = path.stat().st_size
    n = 0
    tracemalloc.start()
    try:
        for r in PARSER.parse(_ctx(path)):
            n += isinstance(r, MessageRecord)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n >= n_posts
    assert peak < min(1_000_000, size // 8), (peak, size)


def test_truncated_json_names_the_offset(net: Network, phone: Seizure, tmp_path: Path) -> None:
    path = write_telegram_export(net, phone, tmp_path, include_media=False)
    data = path.read_bytes()
    cut = tmp_path / "cut" / "result.json"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match=rf"near byte {len(data) // 2}\b.*after message"):
        PARSER.parse(_ctx(cut))  # raises before anything is yielded
    bad = tmp_path / "bad" / "result.json"
    bad.parent.mkdir()
    at = data.index(b'"date_unixtime"', len(data) // 3)
    bad.write_bytes(data[:at] + b"?" + data[at + 1 :])
    with pytest.raises(ParseError, match=r"invalid JSON near byte \d+"):
        PARSER.parse(_ctx(bad))


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"foo": [1, 2], "bar": {"x": 1}}, "not a Telegram Desktop export"),
        ([1, 2, 3], "not a JSON object"),
        ({"name": "x", "type": "personal_chat", "id": 1, "messages": 5}, "messages is a JSON number"),
        ({"about": "a", "chats": {"about": "b", "list": {"x": 1}}}, "chats.list is a JSON start_map"),
        (
            {"about": "a", "personal_information": {"user_id": "me"}, "chats": {"about": "", "list": []}},
            "user_id is not an integer",
        ),
    ],
)
def test_malformed_exports_raise(tmp_path: Path, obj: Any, match: str) -> None:
    """Faults of the file itself. (Changed: an unreadable message or chat no longer stops the parse;
    it is skipped and counted, test_telegram_coverage.py.)"""
    with pytest.raises(ParseError, match=match):
        PARSER.parse(_ctx(_write(tmp_path, obj)))


def test_empty_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b"")
    with pytest.raises(ParseError, match="empty"):
        PARSER.parse(_ctx(path))


def test_detect(net: Network, phone: Seizure, tmp_path: Path) -> None:
    whole = write_telegram_export(net, phone, tmp_path / "a", include_media=False).read_bytes()[:8192]
    seizure = next(s for s in net.seizures if s.format == "telegram")
    single = write_telegram_export(net, seizure, tmp_path / "b", whole_account=False).read_bytes()[:8192]
    assert PARSER.detect("/export/result.json", whole)
    assert PARSER.detect("/sd/backup.zip!/Telegram Desktop/ChatExport_2024-03-01/result.json", single)
    assert PARSER.detect("/x/result.json", b"\xef\xbb\xbf" + single)
    assert not PARSER.detect("/export/messages.json", whole)
    assert not PARSER.detect("/x/result.json", b'{"results": [1, 2], "status": "ok"}')
    assert not PARSER.detect("/x/result.json", b"[]")
    assert "telegram-export" in PARSERS and PARSERS.get("telegram-export").name == "telegram-export"


def test_helpers() -> None:
    assert chat_raw_id("private_group", 5) == "chat5"
    assert chat_raw_id("public_channel", 5) == "channel5"
    assert chat_raw_id("personal_chat", 5) == "user5"
    assert flatten_text(["a", {"type": "bold", "text": "b"}]) == "ab" and flatten_text(None) == ""
    with pytest.raises(ParseError):
        flatten_text([1])


def test_whole_account_sections(tmp_path: Path) -> None:
    export = {
        "about": "x",
        "personal_information": {
            "user_id": 111,
            "first_name": "Alpha",
            "last_name": "Tester",
            "phone_number": "+34 600 000 000",
            "username": "@alpha",
        },
        "contacts": {
            "about": "",
            "list": [
                {"first_name": "Old", "last_name": "Contact", "phone_number": "+34 600 000 001", "date": "x"},
                {"date": "2024-01-01T00:00:00"},
            ],
        },
        "chats": {
            "about": "",
            "list": [
                {"type": "saved_messages", "id": 111, "messages": [_msg(1, text="note to self")]},
                {"name": "Bravo", "type": "personal_chat", "id": 222, "messages": []},
            ],
        },
        "left_chats": {
            "about": "",
            "list": [
                {
                    "name": "Gone",
                    "type": "public_channel",
                    "id": 333,
                    "messages": [_msg(5, from_id="channel333", **{"from": "Gone"}, text="post")],
                },
            ],
        },
    }
    records = _parse(_write(tmp_path, export))
    chats = [(c.raw_id, c.kind, c.title) for c in _of(records, ChatRecord)]
    assert chats == [
        ("user111", "private", None),
        ("user222", "private", "Bravo"),
        ("channel333", "channel", "Gone"),
    ]
    accounts = {a.raw_id: a for a in _of(records, AccountRecord)}
    assert accounts["user111"].is_device_owner and accounts["user111"].username == "alpha"
    assert accounts["+34 600 000 001"].display_name == "Old Contact"  # no user_id: the phone is the id
    assert accounts["channel333"].display_name == "Gone"
    msgs = _of(records, MessageRecord)
    assert [(m.chat, m.from_me) for m in msgs] == [("user111", True), ("channel333", False)]
    assert msgs[1].locator and msgs[1].locator.endswith("#chat/333/message/5")
