"""The TL reader: primitives, the constructor table, and the real 2016 message blob of
tsusanka/telegram-extractor (../shared/corpus/phones/telegram_android/tl_blobs, read in place),
checked against every value of its ``.expected.json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tessera.messaging import tl_objects
from tessera.messaging.tl import VECTOR, Reader, Truncated, UnknownConstructor
from tessera.messaging.tl_media import media_summary
from tessera.synth.cache4 import W, _doc_media, _photo_media

BLOBS = Path(__file__).resolve().parents[2].parent / "shared/corpus/phones/telegram_android/tl_blobs"
BLOB = BLOBS / "regular-message-1.dat"


@pytest.mark.skipif(not BLOB.is_file(), reason=f"corpus blob not found at {BLOB}")
def test_the_real_2016_blob_decodes_to_every_expected_value() -> None:
    data = BLOB.read_bytes()
    exp = {
        k: v["value"]
        for k, v in json.loads(BLOB.with_name(BLOB.name + ".expected.json").read_text())["expected"].items()
    }
    assert len(data) == exp["size"]
    msg = tl_objects.message(data)
    assert f"0x{msg['cid']:08x}" == exp["constructor"]
    assert hex(msg["flags"]) == exp["flags"]
    assert msg["id"] == exp["id"] and msg["ttl"] == exp["ttl"]
    assert msg["from_id"]["id"] == exp["from_id"] and msg["from_id"]["kind"] == "user"
    assert f"0x{msg['peer_id']['cid']:08x}" == exp["peer"]["constructor"]
    assert msg["peer_id"] == {
        "_": "peerUser_layer132",
        "cid": 0x9DB1BC6D,
        "kind": "user",
        "id": exp["peer"]["user_id"],
    }
    assert datetime.fromtimestamp(msg["date"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == exp["date_utc"]
    assert msg["message"] == exp["message"]
    assert f"0x{msg['media']['cid']:08x}" == exp["media_constructor"]
    assert msg["media"]["_"] == "messageMediaEmpty"
    assert exp["entities"] == {"vector_constructor": f"0x{VECTOR:08x}", "count": 0} and msg["entities"] == []
    # What follows the entities is Telegram's local attach path: the empty string, 4 zero bytes.
    assert data[-4:].hex() == exp["trailing_bytes_hex"]


@pytest.mark.skipif(not BLOB.is_file(), reason=f"corpus blob not found at {BLOB}")
def test_every_cut_of_the_real_blob_is_truncated_never_a_crash() -> None:
    data = BLOB.read_bytes()
    for n in range(len(data) - 4):  # the last 4 bytes (attach path) are not read
        with pytest.raises(Truncated) as err:
            tl_objects.message(data[:n])
        assert err.value.reason == "truncated TL blob"


def test_strings_long_and_short_with_padding() -> None:
    for text in ("", "a", "abc", "abcd", "é" * 200, "x" * 300, "y" * 70000):
        w = W().s(text).i32(7)
        assert len(w.b) % 4 == 0
        r = Reader(bytes(w.b))
        assert r.string() == text and r.int32() == 7 and r.remaining() == 0


def test_unknown_constructor_and_wrong_family_name_the_id() -> None:
    with pytest.raises(UnknownConstructor) as err:
        tl_objects.message(bytes(W().u32(0x12345678).i32(0).b))
    assert err.value.reason == "unknown TL constructor 0x12345678 (where a Message must be)"
    # A known constructor where another family must be is unknown there (a Photo is no Peer).
    with pytest.raises(UnknownConstructor, match="0x2331b22d .where a Peer"):
        Reader(bytes(W().u32(0x2331B22D).i64(1).b)).obj("Peer")


def test_a_vector_count_larger_than_the_blob_is_truncated() -> None:
    with pytest.raises(Truncated):
        Reader(bytes(W().u32(VECTOR).i32(1_000_000).b)).vector(Reader.int32)


def test_media_photo_and_documents() -> None:
    w = W()
    _photo_media(w, 42)
    photo = Reader(bytes(w.b)).obj("MessageMedia")
    assert media_summary(photo) == {
        "media": "messageMediaPhoto", "media_constructor": "0x695150d7", "kind": "image", "photo_id": 42,
        "size": 98765,
    }  # fmt: skip
    for attrs, kind in (
        ([("file", "a.pdf")], "document"),
        ([("video", None)], "video"),
        ([("audio", None)], "audio"),
    ):
        w = W()
        _doc_media(w, 9, "application/x", 5_000_000_000, attrs)
        s = media_summary(Reader(bytes(w.b)).obj("MessageMedia"))
        assert s["kind"] == kind and s["document_id"] == 9 and s["size"] == 5_000_000_000
        assert s.get("file_name") == ("a.pdf" if kind == "document" else None)


def test_users_and_chats_of_both_id_widths() -> None:
    from tessera.synth.cache4 import chat_blob, user_blob

    for wide in (True, False):
        u = tl_objects.user(user_blob(1000001, wide, is_self=True))
        assert (u["id"], u["first_name"], u["last_name"], u["username"], u["phone"], u["self"]) == (
            1000001, "Ana", "Owner", "anaowner", "34600000001", True,
        )  # fmt: skip
        c = tl_objects.chat(chat_blob("channel", 3002, "Channel C", wide, broadcast=True))
        assert (c["kind"], c["id"], c["title"], c["broadcast"]) == ("channel", 3002, "Channel C", True)
        g = tl_objects.chat(chat_blob("chat", 2001, "Group A", wide))
        assert (g["kind"], g["id"], g["title"]) == ("chat", 2001, "Group A")


def _old_layer47(fwd: bool) -> bytes:
    """``TL_message_layer47``: flags, id, from_id?, to_id, forward (Peer + date)?, via_bot?, reply?,
    date, text, media?, entities?: written field by field from its layout."""
    flags = 2 | 256 | 8 | 512 | 128 | (4 if fwd else 0)
    w = W().u32(0xC992E15C).i32(flags).i32(77).i32(5001).peer("chat", 42, False)
    if fwd:
        w.peer("channel", 9000, False).i32(1_400_000_000)
    w.i32(76).i32(1_450_000_000).s("old text")
    # A document of layer 92 with one thumb of layer 127 and a file location of layer 97.
    w.u32(0x2FDA2204).u32(0x59534E4C).i64(31).i64(32).s(b"\x01\x02").i32(1_450_000_000).s("audio/ogg").i32(
        2048
    )
    w.u32(0x77BFB61B).s("s").u32(0x091D11EB).i32(2).i64(5).i32(6).i64(7).s(b"").i32(90).i32(90).i32(1000)
    w.i32(2).vec([0], lambda x, _i: x.u32(0x9852F9C6).i32(1024).i32(3))
    w.vec([0], lambda x, _i: x.u32(0x76A6D327).i32(0).i32(3).s("https://example.invalid"))
    return bytes(w.b)


@pytest.mark.parametrize("fwd", [False, True])
def test_layer_47_message_with_an_old_document(fwd: bool) -> None:
    msg = tl_objects.message(_old_layer47(fwd))
    assert (msg["_"], msg["id"], msg["from_id"]["id"], msg["peer_id"]["kind"]) == (
        "message_layer47",
        77,
        5001,
        "chat",
    )
    assert msg["reply_to"] == {"reply_to_msg_id": 76} and msg["message"] == "old text"
    assert ("fwd_from" in msg) == fwd
    if fwd:
        assert msg["fwd_from"]["from_id"] == {
            "_": "peerChannel_layer132",
            "cid": 0xBDDDE532,
            "kind": "channel",
            "id": 9000,
        }
    summary = media_summary(msg["media"])
    assert (summary["kind"], summary["document_id"], summary["size"], summary["mime_type"]) == (
        "audio",
        31,
        2048,
        "audio/ogg",
    )
    assert [e["_"] for e in msg["entities"]] == ["messageEntityTextUrl"]


def test_old_service_messages_and_chats() -> None:
    # messageService_layer37: flags, id, from_id (always), to_id, date, action (ChatAddUser_layer132).
    w = W().u32(0x1D86F70E).i32(0).i32(5).i32(100).peer("chat", 7, False).i32(1_400_000_000)
    w.u32(0x488A7337).vec([200, 300], lambda x, u: x.i32(u))
    msg = tl_objects.message(bytes(w.b))
    assert (
        msg["from_id"]["id"] == 100
        and msg["action"]["action"] == "added"
        and msg["action"]["users"] == [200, 300]
    )
    chat = tl_objects.chat(bytes(W().u32(0x678E9587).i32(32).i32(55).i64(1).s("Old channel").b))
    assert (chat["kind"], chat["id"], chat["title"], chat["broadcast"]) == (
        "channel",
        55,
        "Old channel",
        True,
    )
    empty = tl_objects.chat(bytes(W().u32(0x29562865).i64(12).b))
    assert (empty["kind"], empty["id"], empty["title"]) == ("chat", 12, None)


def test_mutated_and_cut_blobs_raise_only_named_tl_errors() -> None:
    """Random damage to real-layout blobs: every outcome is a decoded object or a TLError with a
    reason (an unknown constructor, a truncated blob), never another exception."""
    import random

    from tessera.messaging.tl import TLError
    from tessera.synth.cache4 import build

    rng = random.Random(13)
    blobs = [m.blob for m in build(24, True) + build(14, False)]
    blobs.append(BLOB.read_bytes() if BLOB.is_file() else blobs[0])
    outcomes: dict[str, int] = {}
    for _ in range(4000):
        data = bytearray(rng.choice(blobs))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)) :]
        try:
            tl_objects.message(bytes(data))
            outcomes["decoded"] = outcomes.get("decoded", 0) + 1
        except TLError as exc:
            assert exc.reason.startswith(("unknown TL constructor 0x", "truncated TL blob", "reply header"))
            outcomes[exc.reason.split(" (")[0][:22]] = outcomes.get(exc.reason.split(" (")[0][:22], 0) + 1
    assert (
        outcomes.get("decoded")
        and outcomes.get("truncated TL blob")
        and outcomes.get("unknown TL constructor")
    )


def test_mutated_user_and_chat_blobs_raise_only_named_tl_errors() -> None:
    import random

    from tessera.messaging.tl import TLError
    from tessera.synth.cache4 import chat_blob, user_blob

    rng = random.Random(7)
    users = [user_blob(1000002, wide) for wide in (True, False)]
    chats = [
        chat_blob(k, 5, "T", wide, bc) for k in ("chat", "channel") for wide in (True, False) for bc in (0, 1)
    ]
    for _ in range(3000):
        fn, pool = rng.choice([(tl_objects.user, users), (tl_objects.chat, chats)])
        data = bytearray(rng.choice(pool))
        data[rng.randrange(len(data))] = rng.randrange(256)
        del data[rng.randrange(1, len(data) + 1) :]
        try:
            fn(bytes(data))
        except TLError as exc:
            assert exc.reason.startswith(("unknown TL constructor 0x", "truncated TL blob"))


def test_an_unknown_entity_type_keeps_the_message_and_names_what_was_not_read() -> None:
    w = (
        W()
        .u32(0x38116EE0)
        .i32(256 | 128)
        .i32(5)
        .peer("user", 9, True)
        .peer("user", 10, True)
        .i32(1_700_000_000)
    )
    w.s("formatted").vec([0], lambda x, _i: x.u32(0x0ABCDEF0).i32(0).i32(2))
    msg = tl_objects.message(bytes(w.b))
    assert msg["message"] == "formatted" and "entities" not in msg
    assert msg["entities_unread"] == "unknown TL constructor 0x0abcdef0 (where a MessageEntity must be)"
    with pytest.raises(Truncated):  # a cut inside the entities is a damaged blob, not an unknown type
        tl_objects.message(bytes(w.b)[:-14])
