"""Render a synthetic network's Telegram groups as a Telegram Desktop export (``result.json``).

The layout follows what Telegram Desktop writes: a whole-account export (``about``,
``personal_information``, ``contacts``, ``chats`` {``about``, ``list``}) with each chat's media under
``chats/chat_NNN/photos/``, or a single-chat export (the top level is the chat object) with media
under ``photos/``. Every message carries the local ``date`` and the UTC ``date_unixtime``. Messages are
written one at a time, so exports of hundreds of thousands of messages cost little memory.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import phonenumbers
from PIL import Image

from tessera.synth.network import Network, Person, Post, Seizure

SKIPPED = "(File not included. Change data exporting settings to download.)"
ABOUT = "Here is the data you requested (synthetic test export)."
#: Where the exporting computer might be: the owner's country decides the local ``date``.
ZONES = {
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "AR": "America/Argentina/Buenos_Aires",
    "CO": "America/Bogota",
    "US": "America/New_York",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "IT": "Europe/Rome",
}


def export_zone(net: Network, seizure: Seizure) -> tzinfo:
    """The zone the synthetic export's local ``date`` fields are written in."""
    owner = net.people.get(seizure.owner or "")
    return ZoneInfo(ZONES[owner.country]) if owner and owner.country in ZONES else UTC


def write_telegram_export(
    net: Network,
    seizure: Seizure,
    out_dir: Path,
    *,
    whole_account: bool = True,
    include_media: bool = True,
    local_tz: tzinfo | None = None,
) -> Path:
    """Write ``out_dir/result.json`` (and the photos when ``include_media``) for the seizure's Telegram
    groups: service messages for creation and for each member's invite or join, and the posts the
    seizure holds (``net.visible``). Returns the path of ``result.json``."""
    groups = [g for g in seizure.groups if net.groups[g].platform == "telegram"]
    if not whole_account and len(groups) != 1:
        raise ValueError(f"a single-chat export holds one chat; {seizure.device} has {len(groups)}")
    tz = local_tz or export_zone(net, seizure)
    out_dir.mkdir(parents=True, exist_ok=True)
    visible: dict[str, list[Post]] = {g: [] for g in groups}
    for p in net.visible(seizure):
        if p.group in visible:
            visible[p.group].append(p)
    w = _Writer(net, tz, out_dir, include_media)
    path = out_dir / "result.json"
    with path.open("w", encoding="utf-8") as f:
        if not whole_account:
            w.chat(f, groups[0], visible[groups[0]], "", indent=0)
            f.write("\n")
            return path
        f.write("{\n " + _kv("about", ABOUT))
        owner = net.people.get(seizure.owner or "")
        if owner is not None:
            f.write(",\n " + _kv("personal_information", _personal(owner)))
            f.write(',\n "contacts": {\n  ' + _kv("about", "Contacts (synthetic).") + ',\n  "list": [')
            contacts = sorted({m for g in groups for m in net.members[g]} - {owner.key})[::2]
            f.write(",".join("\n   " + _dump(_contact(net.people[c], net, groups, tz)) for c in contacts))
            f.write("\n  ]\n }")
        f.write(',\n "chats": {\n  ' + _kv("about", "Chats (synthetic).") + ',\n  "list": [')
        for i, g in enumerate(groups):
            f.write(",\n   " if i else "\n   ")
            w.chat(f, g, visible[g], f"chats/chat_{i + 1:03d}/", indent=3)
        f.write("\n  ]\n }\n}\n")
    return path


class _Writer:
    def __init__(self, net: Network, tz: tzinfo, out_dir: Path, include_media: bool) -> None:
        self.net, self.tz, self.out_dir, self.include_media = net, tz, out_dir, include_media
        self.sizes: dict[str, tuple[int, int]] = {}
        # A forwarded post names the sender of the item's first post, as the forward header does.
        self.origin: dict[str, str] = {}
        for p in sorted(net.posts, key=lambda p: (p.time, p.id)):
            if p.item and not p.forwarded and p.item not in self.origin:
                self.origin[p.item] = net.people[p.sender].name

    def chat(self, f: TextIO, group_key: str, posts: list[Post], media_dir: str, indent: int) -> None:
        group = self.net.groups[group_key]
        pad = " " * indent
        f.write(
            "{\n" + pad + " " + _kv("name", group.title) + ",\n" + pad + ' "type": "private_supergroup",\n'
        )
        f.write(pad + f' "id": {group.tg_id},\n' + pad + ' "messages": [')
        for n, msg in enumerate(self._messages(group_key, posts, media_dir), start=1):
            msg = {"id": n, **msg}
            f.write(("," if n > 1 else "") + "\n" + pad + "  " + _dump(msg))
        f.write("\n" + pad + " ]\n" + pad + "}")

    def _messages(self, group_key: str, posts: list[Post], media_dir: str) -> Iterator[dict[str, Any]]:
        """Service messages and posts in time order (a service message first at equal times)."""
        group, net = self.net.groups[group_key], self.net
        creator = net.people[group.creator]
        joins = sorted(net.members[group_key].items(), key=lambda kv: (kv[1], kv[0]))
        events: list[tuple[datetime, int, int, dict[str, Any]]] = []
        events.append(
            (
                group.created,
                0,
                0,
                {
                    "type": "service",
                    **self._dates(group.created),
                    **_actor(creator),
                    "action": "create_group",
                    "title": group.title,
                    "members": [],
                    "text": "",
                    "text_entities": [],
                },
            )
        )
        for j, (key, t) in enumerate(joins):
            if key == group.creator:
                continue
            person = net.people[key]
            if j % 2:  # invited by the creator
                body = {**_actor(creator), "action": "invite_members", "members": [person.name]}
            else:  # joined with the creator's link
                body = {**_actor(person), "action": "join_group_by_link", "inviter": creator.name}
            events.append(
                (
                    t,
                    0,
                    j + 1,
                    {
                        "type": "service",
                        **self._dates(t),
                        **body,
                        "text": "",
                        "text_entities": [],
                    },
                )
            )
        for p in posts:
            events.append((p.time, 1, p.id, self._post(p, media_dir)))
        for _, _, _, msg in sorted(events, key=lambda e: e[:3]):
            yield msg

    def _post(self, p: Post, media_dir: str) -> dict[str, Any]:
        sender = self.net.people[p.sender]
        msg: dict[str, Any] = {
            "type": "message",
            **self._dates(p.time),
            "from": sender.name,
            "from_id": f"user{sender.tg_id}",
        }
        if p.forwarded:
            msg["forwarded_from"] = self.origin.get(p.item or "", sender.name)
        if p.item:
            msg.update(self._photo(p, media_dir))
        text = p.text or ""
        if text and p.id % 3 == 0:  # formatted text: a list of strings and entity objects
            head, _, rest = text.partition(" ")
            parts: list[Any] = [head + " ", {"type": "bold", "text": rest}] if rest else [text]
            msg["text"] = parts
            msg["text_entities"] = [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts]
        else:
            msg["text"] = text
            msg["text_entities"] = [{"type": "plain", "text": text}] if text else []
        return msg

    def _photo(self, p: Post, media_dir: str) -> dict[str, Any]:
        assert p.item is not None
        item = self.net.items[p.item]
        if item.key not in self.sizes:
            self.sizes[item.key] = Image.open(io.BytesIO(item.data)).size
        w, h = self.sizes[item.key]
        if not self.include_media:
            return {"photo": SKIPPED, "width": w, "height": h}
        stamp = p.time.astimezone(self.tz).strftime("%d-%m-%Y_%H-%M-%S")
        rel = f"{media_dir}photos/photo_{p.id}@{stamp}.jpg"
        target = self.out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.data)
        return {"photo": rel, "width": w, "height": h}

    def _dates(self, t: datetime) -> dict[str, str]:
        local = t.astimezone(self.tz).replace(tzinfo=None)
        return {"date": local.isoformat(timespec="seconds"), "date_unixtime": str(int(t.timestamp()))}


def _actor(person: Person) -> dict[str, str]:
    return {"actor": person.name, "actor_id": f"user{person.tg_id}"}


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


def _phone(person: Person) -> str:
    num = phonenumbers.parse(person.phone)
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _personal(person: Person) -> dict[str, Any]:
    first, last = _split(person.name)
    return {
        "user_id": person.tg_id,
        "first_name": first,
        "last_name": last,
        "phone_number": _phone(person),
        "username": "@" + person.tg_username,
    }


def _contact(person: Person, net: Network, groups: list[str], tz: tzinfo) -> dict[str, Any]:
    """A saved contact, added when the owner first met them in a group."""
    first, last = _split(person.name)
    t = min(net.members[k][person.key] for k in groups if person.key in net.members[k])
    local = t.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")
    return {
        "user_id": person.tg_id,
        "first_name": first,
        "last_name": last,
        "phone_number": _phone(person),
        "date": local,
        "date_unixtime": str(int(t.timestamp())),
    }


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _kv(key: str, value: Any) -> str:
    return f"{_dump(key)}: {_dump(value)}"
