"""Reading Cellebrite decoded models (``<model type="...">``) out of ``report.xml`` elements.

A model's simple values sit in ``<field name="X"><value>...</value></field>`` (``<empty/>`` when
absent), nested models in ``<modelField name="X">`` (one) and ``<multiModelField name="X">`` (many;
Physical Analyzer sometimes writes the same multiModelField twice, e.g. ``EmbeddedInstantMessage``).
Tags arrive here without their namespace (``tessera.evidence.ufdr_report.events``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from tessera.evidence.ufdr_report import parse_time
from tessera.messaging.whatsapp_db_common import account_jid

#: ``Source`` / ``SourceApplication`` of a chat -> platform. Identifiers of these apps are written by
#: Physical Analyzer as the app writes them (WhatsApp JIDs, Telegram numeric user ids).
APPS: dict[str, str] = {
    "whatsapp": "whatsapp",
    "whatsapp business": "whatsapp",
    "telegram": "telegram",
    "telegram x": "telegram",
}

#: ``ChatActivity`` actions -> the record's ``action`` vocabulary (tessera.messaging.records).
ACTIONS = {
    "ParticipantJoined": "joined",
    "ParticipantLeft": "left",
    "ParticipantAdded": "added",
    "ParticipantRemoved": "removed",
    "ParticipantPromoted": "promoted",
    "ChatCreated": "created",
    "GroupCreated": "created",
    "ChatNameChanged": "renamed",
}

#: ``ChatType`` values -> chat kind.
CHAT_TYPES = {"OneOnOne": "private", "Group": "group", "Broadcast": "broadcast", "Channel": "channel"}

SYSTEM_SENDER = "System message"


def platform_of(app: str | None) -> str | None:
    return APPS.get((app or "").strip().lower())


def field(model: ET.Element, name: str) -> str | None:
    """The text of a direct ``field``'s first ``value`` (None for ``<empty/>`` or absent)."""
    for f in model.findall("field"):
        if f.get("name") == name:
            v = f.find("value")
            if v is not None and v.text is not None and v.text.strip():
                return v.text
            return None
    return None


def models(model: ET.Element, name: str) -> list[ET.Element]:
    """The models under every ``modelField``/``multiModelField`` called ``name`` (direct children)."""
    out: list[ET.Element] = []
    for child in model:
        if child.tag in ("modelField", "multiModelField") and child.get("name") == name:
            out.extend(c for c in child if c.tag == "model")
    return out


def is_true(text: str | None) -> bool:
    return (text or "").strip().lower() == "true"


@dataclass(slots=True)
class Party:
    identifier: str | None
    name: str | None
    owner: bool
    admin: bool

    @classmethod
    def of(cls, model: ET.Element) -> Party:
        return cls(
            field(model, "Identifier"),
            field(model, "Name"),
            is_true(field(model, "IsPhoneOwner")),
            is_true(field(model, "IsGroupAdmin")),
        )


def account_id(platform: str, identifier: str | None) -> str | None:
    """The raw account id a party names on ``platform``, kept as written except for the forms other
    parsers of the same platform use: a WhatsApp device JID (``N:D@s.whatsapp.net``) is the person's
    JID (as the msgstore parser reads it), a bare numeric Telegram id is ``user<N>`` (as Telegram's
    own export writes it), so one account from two sources is one account."""
    if not identifier or identifier == SYSTEM_SENDER:
        return None
    ident = identifier.strip()
    if platform == "whatsapp":
        return account_jid(ident)
    if platform == "telegram" and ident.isdigit():
        return f"user{ident}"
    return ident


@dataclass(slots=True)
class Attachment:
    model_id: str | None
    file_id: str | None
    filename: str | None
    content_type: str | None
    extracted: str | None  # the zip member ("files/Audio/x.opus"), "/"-separated
    size: int | None

    @classmethod
    def of(cls, model: ET.Element) -> Attachment:
        extracted = field(model, "attachment_extracted_path")
        size = None
        for df in model.findall("dataField"):
            src = df.find("source")
            if src is not None and (src.get("length") or "").isdigit():
                size = int(src.get("length") or 0)
        return cls(
            model.get("id"),
            model.get("file_id"),
            field(model, "Filename"),
            field(model, "ContentType"),
            extracted.replace("\\", "/") if extracted else None,
            size,
        )

    def raw(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "content_type": self.content_type,
            "extracted_path": self.extracted,
        }


def attachments(message: ET.Element) -> list[Attachment]:
    return [Attachment.of(m) for m in models(message, "Attachments") + models(message, "Attachment")]


def kind_of(content_type: str | None) -> str:
    major = (content_type or "").split("/", 1)[0].lower()
    return {"image": "image", "video": "video", "audio": "audio"}.get(major, "document")


def labels(message: ET.Element) -> set[str]:
    """Labels of the message (``Forwarded``, ``System``, ``SelfDestruct`` ...), own and extra data."""
    out = {lab for lab in [field(message, "Label")] if lab}
    for extra in models(message, "MessageExtraData"):
        for f in extra.findall("field"):
            if f.get("name") == "Label":
                v = f.find("value")
                if v is not None and v.text:
                    out.add(v.text.strip())
    return out


def quoted(message: ET.Element) -> tuple[list[dict[str, Any]], list[ET.Element]]:
    """What the message quotes or replies to (reference ids and the quoted copies, kept raw), and
    the InstantMessage copies inside it (embedded or replied-to), which are not messages of their own."""
    refs: list[dict[str, Any]] = []
    copies: list[ET.Element] = []
    for extra in models(message, "MessageExtraData"):
        if extra.get("type") == "QuotedMessageData":
            refs.append(
                {"quoted_id": field(extra, "ReferenceId"), "original_id": field(extra, "OriginalMessageID")}
            )
        elif extra.get("type") == "ReplyMessageData":
            for copy in models(extra, "InstantMessage"):
                copies.append(copy)
                refs.append({"reply_to": summary(copy)})
    for copy in models(message, "EmbeddedInstantMessage"):
        copies.append(copy)
    return refs, copies


def summary(message: ET.Element) -> dict[str, Any]:
    sender = models(message, "From")
    t = field(message, "TimeStamp")
    return {
        "id": message.get("id"),
        "from": Party.of(sender[0]).identifier if sender else None,
        "body": field(message, "Body"),
        "time": t,
    }


def nested_messages(message: ET.Element) -> int:
    """InstantMessage models inside ``message`` (quoted, replied-to and embedded copies)."""
    return sum(1 for m in message.iter("model") if m.get("type") == "InstantMessage") - 1


def timestamp(message: ET.Element) -> tuple[str | None, Any]:
    raw = field(message, "TimeStamp")
    return raw, parse_time(raw)
