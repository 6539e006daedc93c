"""Reading a Telegram Desktop ``result.json`` as a stream of small items with ijson events.

A whole-account export can be hundreds of MB, so the parser (``telegram``) never holds it: it walks
this stream twice. Only one message, contact or the owner's object is built at a time.

Every element of a ``messages`` or ``contacts.list`` array is handed on whatever its JSON type (the
parser counts what it cannot read as skipped), and so is every element of ``chats.list`` and
``left_chats.list``. Faults of the file itself raise :class:`ParseError` naming the byte offset and
the last message read: invalid or truncated JSON, and a container of the wrong JSON type (``messages``
that is not a list). A truncated file is not read up to its break: how much it held is unknowable
there, so no count could be reconciled, and a file cut short is better re-acquired than half-read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from tessera.evidence import open_item
from tessera.messaging.base import ParseContext
from tessera.messaging.records import ParseError
from tessera.messaging.telegram_records import table

#: Containers whose JSON type the parser relies on: prefix -> the event that must open them.
_CONTAINERS = {
    k: "start_map" if v == "{" else "start_array"
    for k, v in table(
        "personal_information={ contacts={ contacts.list=[ chats={ chats.list=[ "
        "chats.list.item.messages=[ left_chats={ left_chats.list=[ left_chats.list.item.messages=[ "
        "messages=["
    ).items()
}
_MESSAGE_PREFIXES = {"chats.list.item.messages.item", "left_chats.list.item.messages.item", "messages.item"}
_CHAT_PREFIXES = {"chats.list.item": "chats", "left_chats.list.item": "left_chats"}
_CHAT_FIELDS = {"name", "type", "id"}
_OBJECTS = {"personal_information": "personal", "contacts.list.item": "contact"}
_BUF = 16 * 1024  # small reads keep the byte offset reported for a syntax error close to the fault


class _Counting:
    """A read-only wrapper counting the bytes handed to the JSON parser (for error offsets)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.pos += len(data)
        return data


def walk(ctx: ParseContext) -> Iterator[tuple[str, Any]]:
    """The export as a stream of small items: top-level keys, the owner, contacts, chat headers
    and messages (each message built as one dict; nothing bigger is ever held).

    Items, as ``(kind, payload)``: ``("root_key", key)``, ``("personal", obj)``,
    ``("contact", (index, value))``, ``("chat_begin", "chats" | "left_chats")``,
    ``("chat_field", (name, value))``, ``("message", value)``, ``("chat_end", None)`` and
    ``("chat_bad", section)`` for an element of a chat list that is not an object. A message or
    contact ``value`` is normally an object, but is whatever the element is.
    """
    with open_item(ctx.opener) as raw:
        f = _Counting(raw)
        last: Any = None  # the id of the last message read, for error messages
        try:
            events = ijson.parse(f, buf_size=_BUF, use_float=True)
            try:
                _, event, _ = next(events)
            except StopIteration:
                raise ParseError(f"{ctx.locator}: empty file, not a Telegram Desktop export") from None
            if event != "start_map":
                raise ParseError(f"{ctx.locator}: top level is not a JSON object: not a Telegram export")
            # An object being built: a stack of its open containers (a hand-rolled builder: this loop
            # sees every event of the file, and ijson's ObjectBuilder costs a method call per event).
            stack: list[Any] = []
            key: Any = None
            skipping, skip = False, 0  # inside a skipped value (text_entities repeats text), its depth
            kind, contacts = "", -1
            for prefix, event, value in events:
                if stack:
                    if skipping:
                        if event == "start_map" or event == "start_array":
                            skip += 1
                        elif event == "end_map" or event == "end_array":
                            skip -= 1
                        skipping = skip > 0
                        continue
                    if event == "map_key":
                        key = value
                        skipping = value == "text_entities" and len(stack) == 1 and kind == "message"
                        continue
                    top = stack[-1]
                    if event == "end_map" or event == "end_array":
                        obj = stack.pop()
                        if not stack:
                            if kind == "message":
                                last = obj.get("id") if type(obj) is dict else last
                                yield kind, obj
                            else:
                                yield kind, (contacts, obj) if kind == "contact" else obj
                        continue
                    if event == "start_map" or event == "start_array":
                        new: Any = {} if event == "start_map" else []
                        if type(top) is dict:
                            top[key] = new
                        else:
                            top.append(new)
                        stack.append(new)
                    elif type(top) is dict:
                        top[key] = value
                    else:
                        top.append(value)
                    continue
                expected = _CONTAINERS.get(prefix)
                if expected and event not in (expected, "map_key", "end_map", "end_array"):
                    want = "an object" if expected == "start_map" else "a list"
                    raise ParseError(f"{ctx.locator}: {prefix} is a JSON {event}, not {want}")
                if prefix == "" and event == "map_key":
                    yield "root_key", value
                elif prefix in _MESSAGE_PREFIXES or prefix in _OBJECTS:
                    kind = _OBJECTS.get(prefix, "message")
                    contacts += kind == "contact"
                    if event == "start_map" or event == "start_array":
                        stack.append({} if event == "start_map" else [])
                    elif kind == "message":  # a scalar where a message should be: the parser skips it
                        yield kind, value
                    elif kind == "contact":
                        yield kind, (contacts, value)
                elif prefix in _CHAT_PREFIXES:
                    if event == "start_map" or event == "end_map":
                        yield (
                            ("chat_begin", _CHAT_PREFIXES[prefix])
                            if event == "start_map"
                            else ("chat_end", None)
                        )
                    elif event != "map_key" and event != "end_array":  # a scalar, or an array
                        yield "chat_bad", _CHAT_PREFIXES[prefix]  # (whose items have longer prefixes)
                    last = None
                elif event not in ("map_key", "start_map", "start_array", "end_map", "end_array"):
                    parent, _, field_name = prefix.rpartition(".")
                    if field_name in _CHAT_FIELDS and (parent in _CHAT_PREFIXES or parent == ""):
                        yield "chat_field", (field_name, value)
        except ParseError as exc:
            raise ParseError(f"{exc} (near byte {f.pos})") from None
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ParseError(
                f"{ctx.locator}: invalid JSON near byte {f.pos} ({_after(last)}{detail})"
            ) from None


def _after(last: Any) -> str:
    return "" if last is None else f"after message {last!r:.30}: "
