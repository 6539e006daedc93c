"""A small reader for Telegram's TL serialisation, as Telegram for Android stores objects in
``cache4.db`` (``messages_v2.data``, ``users.data``, ``chats.data``): little-endian int32/int64/double,
strings and byte strings with a 1- or 4-byte length and zero padding to 4, ``Vector`` (0x1cb5c415)
with a count, and boxed objects that start with their 4-byte constructor id.

Objects are read through one constructor table (:data:`TABLE`: constructor id -> family, name,
decoder). A decoder reads the object's fields and returns them as a plain dict (``"_"`` the
constructor's name, ``"cid"`` its id). What cannot be read raises :class:`TLError`:

- :class:`UnknownConstructor` ("unknown TL constructor 0x....") for an id the table does not hold
  or holds for another family (a Document where a Peer must be): the bytes after it cannot be
  located, so the caller counts the object as skipped;
- :class:`Truncated` ("truncated TL blob") when a field runs past the end of the bytes.

Layouts are those of ``TLRPC.java`` of DrKLO/Telegram (the per-layer classes it keeps to read old
stored objects). The families read here and in ``tl_objects`` (messages, users, chats) are listed in
``tessera.messaging.telegram_android``'s docstring.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

VECTOR = 0x1CB5C415
BOOL_TRUE, BOOL_FALSE = 0x997275B5, 0xBC799737

TL = dict[str, Any]


class TLError(ValueError):
    """An object that cannot be read. ``reason`` has no values other than a constructor id, so that
    skips group by reason in the reconciliation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownConstructor(TLError):
    def __init__(self, cid: int, family: str) -> None:
        super().__init__(f"unknown TL constructor 0x{cid:08x} (where a {family} must be)")
        self.cid = cid
        self.family = family


class Truncated(TLError):
    def __init__(self) -> None:
        super().__init__("truncated TL blob")


_I32, _U32 = struct.Struct("<i").unpack_from, struct.Struct("<I").unpack_from
_I64, _F64 = struct.Struct("<q").unpack_from, struct.Struct("<d").unpack_from


class Reader:
    """Sequential reads over one blob; every read checks the bytes are there."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise Truncated()
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def _fixed(self, unpack: Callable[[bytes, int], tuple[Any, ...]], n: int) -> Any:
        # unpack_from at the offset: no slice is made for the fixed-size fields (most of a blob).
        pos = self.pos
        if pos + n > len(self.data):
            raise Truncated()
        self.pos = pos + n
        return unpack(self.data, pos)[0]

    def int32(self) -> int:
        return int(self._fixed(_I32, 4))

    def uint32(self) -> int:
        return int(self._fixed(_U32, 4))

    def int64(self) -> int:
        return int(self._fixed(_I64, 8))

    def double(self) -> float:
        return float(self._fixed(_F64, 8))

    def raw(self) -> bytes:
        """A TL ``bytes``: length byte (< 254) or 254 + 3-byte length, then padding to 4."""
        first = self._take(1)[0]
        if first < 254:
            n, head = first, 1
        else:
            n, head = int.from_bytes(self._take(3), "little"), 4
        out = self._take(n)
        self._take((4 - (head + n) % 4) % 4)
        return out

    def string(self) -> str:
        # Telegram writes UTF-8; a damaged sequence is shown replaced, never dropped.
        return self.raw().decode("utf-8", "replace")

    def boolean(self) -> bool:
        cid = self.uint32()
        if cid == BOOL_TRUE:
            return True
        if cid == BOOL_FALSE:
            return False
        raise UnknownConstructor(cid, "Bool")

    def vector(self, item: Callable[[Reader], Any]) -> list[Any]:
        cid = self.uint32()
        if cid != VECTOR:
            raise UnknownConstructor(cid, "Vector")
        n = self.int32()
        if n < 0 or n > self.remaining():  # every element takes at least one byte
            raise Truncated()
        return [item(self) for _ in range(n)]

    def obj(self, family: str) -> TL:
        """A boxed object of ``family``, decoded through :data:`TABLE`."""
        cid = self.uint32()
        entry = TABLE.get(cid)
        if entry is None or entry.family != family:
            raise UnknownConstructor(cid, family)
        out: TL = {"_": entry.name, "cid": cid}
        out.update(entry.decode(self))
        return out


@dataclass(frozen=True)
class Entry:
    family: str
    name: str
    decode: Callable[[Reader], TL]


TABLE: dict[int, Entry] = {}


def tl(cid: int, family: str, name: str) -> Callable[[Callable[[Reader], TL]], Callable[[Reader], TL]]:
    """Register a decoder for a constructor id."""

    def wrap(fn: Callable[[Reader], TL]) -> Callable[[Reader], TL]:
        TABLE[cid] = Entry(family, name, fn)
        return fn

    return wrap


def register_empty(family: str, pairs: dict[int, str]) -> None:
    """Constructors without fields (or whose fields nothing here needs and that end the object)."""
    for cid, name in pairs.items():
        TABLE[cid] = Entry(family, name, lambda _r: {})


# --- Peer ---------------------------------------------------------------------------------------
# Layer 133 made ids 64-bit and gave the peers new constructors; the old ones hold an int32.
PEER_KIND = {
    0x59511722: "user", 0x36C6019A: "chat", 0xA2A5371E: "channel",
    0x9DB1BC6D: "user", 0xBAD0E5BB: "chat", 0xBDDDE532: "channel",
}  # fmt: skip
for _cid, _kind in PEER_KIND.items():
    _wide = _cid in (0x59511722, 0x36C6019A, 0xA2A5371E)

    def _peer(r: Reader, kind: str = _kind, wide: bool = _wide) -> TL:
        return {"kind": kind, "id": r.int64() if wide else r.int32()}

    TABLE[_cid] = Entry("Peer", "peer" + _kind.capitalize() + ("" if _wide else "_layer132"), _peer)


def peer_id(p: TL | None) -> str | None:
    """``user<id>``, ``chat<id>``, ``channel<id>``: the identifiers of the Telegram Desktop export
    parser, so that one person read from a phone and from an export is one account."""
    return None if p is None else f"{p['kind']}{p['id']}"


def bare_user(uid: int) -> TL:
    """A from_id written as a bare int32 user id (layers up to 118 and secret chats)."""
    return {"_": "peerUser", "kind": "user", "id": uid}


# --- Message entities (formatting): offset, length, and for some an extra field -----------------
_SIMPLE_ENTITIES = {
    0xBB92BA95: "unknown", 0xFA04579D: "mention", 0x6F635B0D: "hashtag", 0x6CEF8AC7: "botCommand",
    0x6ED02538: "url", 0x64E475C2: "email", 0xBD610BC9: "bold", 0x826F8B60: "italic",
    0x28A20571: "code", 0x9B69E34B: "phone", 0x4C4E743F: "cashtag", 0x9C4E7E8B: "underline",
    0xBF0693D4: "strike", 0x761E6AF4: "bankCard", 0x32CA960F: "spoiler", 0x020DF5D0: "blockquote_layer169",
}  # fmt: skip
for _cid, _name in _SIMPLE_ENTITIES.items():
    TABLE[_cid] = Entry(
        "MessageEntity", "messageEntity" + _name, lambda r: {"offset": r.int32(), "length": r.int32()}
    )


@tl(0x76A6D327, "MessageEntity", "messageEntityTextUrl")
def _ent_url(r: Reader) -> TL:
    return {"offset": r.int32(), "length": r.int32(), "url": r.string()}


@tl(0x73924BE0, "MessageEntity", "messageEntityPre")
def _ent_pre(r: Reader) -> TL:
    return {"offset": r.int32(), "length": r.int32(), "language": r.string()}


@tl(0xDC7B1140, "MessageEntity", "messageEntityMentionName")
def _ent_mention(r: Reader) -> TL:
    return {"offset": r.int32(), "length": r.int32(), "user_id": r.int64()}


@tl(0x352DCA58, "MessageEntity", "messageEntityMentionName_layer131")
def _ent_mention_old(r: Reader) -> TL:
    return {"offset": r.int32(), "length": r.int32(), "user_id": r.int32()}


@tl(0xC8CF05F8, "MessageEntity", "messageEntityCustomEmoji")
def _ent_emoji(r: Reader) -> TL:
    return {"offset": r.int32(), "length": r.int32(), "document_id": r.int64()}


@tl(0xF1CCAAAC, "MessageEntity", "messageEntityBlockquote")
def _ent_quote(r: Reader) -> TL:
    r.int32()  # flags (collapsed)
    return {"offset": r.int32(), "length": r.int32()}


def entities(r: Reader) -> list[TL]:
    return r.vector(lambda x: x.obj("MessageEntity"))
