"""The Telegram export reconciliation on hand-written files: every element of a messages, chat or
contacts list is parsed, ignored or skipped with its reason and locator, never fatal to the file;
numeric and missing ids are read as later exports would name the same account or chat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tessera.messaging.coverage import Coverage
from tessera.messaging.records import AccountRecord, ChatRecord, MessageRecord, MessagingRecord
from tests.messaging.test_telegram import PARSER, _ctx, _export, _msg, _of, _write


def _run(tmp_path: Path, obj: Any) -> tuple[list[MessagingRecord], Coverage]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    ctx = _ctx(_write(tmp_path, obj))
    records = list(PARSER.parse(ctx))
    cov = ctx.coverage
    for name, u in cov.units.items():
        assert u.present == u.parsed + u.ignored + u.skipped, (name, u)
    return records, cov


def _skips(cov: Coverage, unit: str = "messages") -> dict[str, list[str]]:
    return {r.reason: r.examples for r in cov.reasons.values() if r.unit == unit and r.kind == "skipped"}


@pytest.mark.parametrize(
    ("bad", "reason", "at"),
    [
        ({"id": "seven", "type": "message", "date_unixtime": "1"}, "id is not an integer", "messages/1"),
        (_msg(2, text=5), "text is neither a string nor a list", "message/2"),
        (_msg(2, text=["a", 5]), "text part is neither a string nor an entity", "message/2"),
        (_msg(2, date_unixtime="soon"), "date_unixtime is not a number of seconds", "message/2"),
        (_msg(2, date_unixtime=None, date="yesterday"), "date is not an ISO date", "message/2"),
        (_msg(2, date_unixtime=None, date=None), "no date_unixtime and no date", "message/2"),
        (_msg(2, from_id=1.5), "from_id is neither a string nor an integer", "message/2"),
        (_msg(2, type=3), "type is not a string", "message/2"),
        (_msg(2, photo=7), "photo is not a string", "message/2"),
        (_msg(2, type="service", action="invite_members", members="x"), "members is not a list", "message/2"),
        (7, "not a JSON object", "messages/1"),
        ([1, {"id": 2}], "not a JSON object", "messages/1"),
        (None, "not a JSON object", "messages/1"),
    ],
)
def test_an_unreadable_message_is_skipped_and_the_rest_read(
    tmp_path: Path, bad: Any, reason: str, at: str
) -> None:
    """Changed: these raised ParseError for the whole file; now the element is skipped and counted."""
    records, cov = _run(tmp_path, _export([_msg(1, text="before"), bad, _msg(3, text="after")]))
    assert [m.text for m in _of(records, MessageRecord)] == ["before", "after"]
    u = cov.units["messages"]
    assert (u.present, u.parsed, u.skipped) == (3, 2, 1)
    assert _skips(cov) == {reason: [f"{tmp_path / 'result.json'}#chat/4242/{at}"]}
    assert cov.status() == "partial" and reason in (cov.problem() or "")


def test_nothing_readable(tmp_path: Path) -> None:
    """The chat header alone was read: partial. Nothing read at all: failed (nothing is stored)."""
    _, cov = _run(tmp_path / "a", _export([7, _msg(2, date_unixtime="soon")]))
    assert cov.status() == "partial" and cov.units["messages"].parsed == 0
    _, cov = _run(tmp_path / "b", _export([_msg(1), _msg(2)], id="abc"))
    assert cov.status() == "failed" and cov.units["messages"].skipped == 2
    assert cov.units["chats"].skipped == 1


def test_unsupported_messages_are_ignored_with_their_locator(tmp_path: Path) -> None:
    records, cov = _run(tmp_path, _export([_msg(1), {"id": 2, "type": "unsupported"}]))
    assert len(_of(records, MessageRecord)) == 1
    (reason,) = cov.reasons.values()
    assert reason.kind == "ignored" and reason.unit == "messages" and "unsupported" in reason.reason
    assert reason.examples == [f"{tmp_path / 'result.json'}#chat/4242/message/2"]
    assert cov.status() == "complete"


def _account(chats: list[Any], contacts: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"about": "x", **extra}
    if contacts is not None:
        out["contacts"] = {"about": "", "list": contacts}
    out["chats"] = {"about": "", "list": chats}
    return out


def test_unreadable_chats_are_skipped_with_their_messages(tmp_path: Path) -> None:
    good = {"name": "G", "type": "private_group", "id": 1, "messages": [_msg(1)]}
    bad_id = {"name": "B", "type": "private_group", "id": "abc", "messages": [_msg(1), _msg(2)]}
    records, cov = _run(tmp_path, _account([5, bad_id, [good], good]))
    assert [c.raw_id for c in _of(records, ChatRecord)] == ["chat1"]
    c, m = cov.units["chats"], cov.units["messages"]
    assert (c.present, c.parsed, c.skipped) == (4, 1, 3)
    assert (m.present, m.parsed, m.skipped) == (3, 1, 2)  # the array chat's message is not counted
    loc = f"{tmp_path / 'result.json'}#"
    assert _skips(cov, "chats") == {
        "not a JSON object": [loc + "chats/0", loc + "chats/2"],
        "id is not an integer": [loc + "chats/1"],
    }
    assert _skips(cov) == {
        "in a chat that cannot be read (id is not an integer)": [
            loc + "chats/1/message/1",
            loc + "chats/1/message/2",
        ]
    }
    assert cov.status() == "partial"


def test_contacts_are_reconciled(tmp_path: Path) -> None:
    me = {"user_id": 111, "first_name": "Alpha", "last_name": "Tester"}
    contacts = [
        {"user_id": 222, "first_name": "Bravo", "phone_number": "+34 600 000 002"},
        {"date": "2019-01-01T00:00:00"},  # the exporter's empty contact
        {"user_id": "x", "first_name": "Broken"},
        {"user_id": 111, "first_name": "Me again"},
        "not a contact",
    ]
    records, cov = _run(tmp_path, _account([], contacts, personal_information=me))
    assert {a.raw_id for a in _of(records, AccountRecord)} == {"user111", "user222"}
    u = cov.units["contacts"]
    assert (u.present, u.parsed, u.ignored, u.skipped) == (5, 1, 2, 2)
    assert set(_skips(cov, "contacts")) == {"user_id is not an integer", "not a JSON object"}
    assert cov.status() == "partial"


def test_integer_ids_are_the_accounts_string_ids_name(tmp_path: Path) -> None:
    """2019-2020: from_id/actor_id are user numbers, and the chat id is the exporter's peer id."""
    svc = {"type": "service", "actor": "Alpha Tester", "actor_id": 123456789, "date_unixtime": None}
    old = [
        _msg(1, **svc, action="create_group", title="T", members=[], date="2019-05-01T10:00:00"),
        _msg(2, from_id=987654321, date_unixtime=None, date="2019-05-01T10:01:00", text="hi"),
        _msg(3, from_id=2**33 + 5, date_unixtime=None, date="2019-05-01T10:02:00", text="?"),
    ]
    records, cov = _run(tmp_path / "old", _export(old, type="private_supergroup", id=(2 << 32) | 1700000001))
    (chat,) = _of(records, ChatRecord)
    assert chat.raw_id == "channel1700000001" and chat.creator == "user123456789"
    assert chat.locator and chat.locator.endswith(f"#chat/{(2 << 32) | 1700000001}")
    msgs = _of(records, MessageRecord)
    assert [m.sender for m in msgs] == ["user123456789", "user987654321", str(2**33 + 5)]
    assert msgs[1].raw["from_id"] == 987654321 and msgs[2].raw["peer_kind_unknown"] is True
    assert cov.status() == "complete"
    assert "export era: 2019-2020 (ids as numbers, local dates)" in cov.notes
    assert any("outside the user-id range" in n for n in cov.notes)
    # The same accounts in a newer export, ids as strings: the same identifiers.
    new = [_msg(1, from_id="user987654321"), _msg(2, from_id="user123456789")]
    records2, _ = _run(tmp_path / "new", _export(new, type="private_supergroup", id=1700000001))
    assert _of(records2, ChatRecord)[0].raw_id == chat.raw_id
    assert {m.sender for m in _of(records2, MessageRecord)} == {"user123456789", "user987654321"}


@pytest.mark.parametrize(
    ("ctype", "cid", "from_id", "want"),
    [
        ("personal_chat", (1 << 32) | 555, 555, "user555"),  # a user peer id, kind 1
        ("saved_messages", (1 << 32) | 555, 555, "user555"),
        ("private_group", (2 << 32) | 77, 555, "chat77"),  # a group, kind 2
        ("personal_chat", (2 << 32) | 555, 555, f"user{(2 << 32) | 555}"),  # kind disagrees: as written
        ("personal_chat", (1 << 32) | 555, "user555", f"user{(1 << 32) | 555}"),  # string ids: bare already
    ],
)
def test_peer_id_encoding_is_decoded_only_where_certain(
    tmp_path: Path, ctype: str, cid: int, from_id: Any, want: str
) -> None:
    records, _ = _run(tmp_path, _export([_msg(1, from_id=from_id)], type=ctype, id=cid))
    assert _of(records, ChatRecord)[0].raw_id == want


def test_names_without_ids(tmp_path: Path) -> None:
    """2018: no chat id, no from_id or actor_id. A name tied to one id elsewhere is that id; a name
    tied to none is the identifier; a name tied to several is left unresolved (kept in raw)."""
    me = {"user_id": 111, "first_name": "Alpha", "last_name": "Tester"}
    chat = {
        "name": "Old group",
        "type": "private_group",
        "messages": [
            {
                "id": 1,
                "type": "service",
                "date": "2018-09-01T10:00:00",
                "actor": "Alpha Tester",
                "action": "create_group",
                "title": "Old group",
                "members": ["Bravo Tester"],
                "text": "",
            },
            {"id": 2, "type": "message", "date": "2018-09-01T10:01:00", "from": "Bravo Tester", "text": "b"},
            {"id": 3, "type": "message", "date": "2018-09-01T10:02:00", "from": "Alpha Tester", "text": "a"},
            {"id": 4, "type": "message", "date": "2018-09-01T10:03:00", "from": "Twin", "text": "?"},
        ],
    }
    twins = {
        "name": "Other",
        "type": "private_group",
        "id": 9,
        "messages": [
            _msg(1, **{"from": "Twin"}, from_id="user1"),
            _msg(2, **{"from": "Twin"}, from_id="user2"),
        ],
    }
    unnamed = {"type": "saved_messages", "messages": []}
    records, cov = _run(tmp_path, _account([chat, twins, unnamed, dict(unnamed)], personal_information=me))
    chats = [c.raw_id for c in _of(records, ChatRecord)]
    loc = f"{tmp_path / 'result.json'}#"
    assert chats == ["Old group", "chat9", loc + "chats/2", loc + "chats/3"]
    old = [m for m in _of(records, MessageRecord) if m.chat == "Old group"]
    assert [m.sender for m in old] == ["user111", "Bravo Tester", "user111", None]
    assert old[2].from_me and old[3].raw["sender_ambiguous"] is True and old[3].raw["from"] == "Twin"
    assert _of(records, ChatRecord)[0].creator == "user111"
    assert old[1].locator == loc + "chats/0/message/2"
    assert cov.status() == "complete"
    assert "export era: 2018 (no ids: chats and senders identified by name)" in cov.notes


def test_single_chat_without_an_id_is_named_by_its_name(tmp_path: Path) -> None:
    """Changed: a chat without an id raised "no chat id"; it is now identified by its name."""
    records, cov = _run(tmp_path, {"name": "no id", "type": "private_group", "messages": []})
    assert [c.raw_id for c in _of(records, ChatRecord)] == ["no id"]
    assert cov.units["chats"].parsed == 1 and cov.status() == "complete"
