"""Render a synthetic network's Telegram groups as a Telegram Desktop export (``result.json``).

The layout follows what Telegram Desktop writes: a whole-account export (``about``,
``personal_information``, ``contacts``, ``chats`` {``about``, ``list``}) with each chat's media under
``chats/chat_NNN/photos/``, or a single-chat export (the top level is the chat object) with media
under ``photos/``. Messages are written one at a time, so exports of hundreds of thousands of messages
cost little memory.

``era`` writes the shapes Telegram Desktop wrote over the years (docs/messaging-telegram.md, *Eras*):

- ``"current"`` (late 2021 on): ids as strings (``"user5000000001"``), the local ``date`` and the UTC
  ``date_unixtime``; chat ``id`` bare.
- ``"2021"`` (late 2020 to late 2021): ids as strings, only the local ``date``.
- ``"2019"`` (2019 to late 2020): ``from_id``/``actor_id`` as 32-bit user numbers
  (:func:`legacy_user_id`), the chat ``id`` as the exporter's peer id (the kind in bits 32 and up:
  :func:`legacy_chat_id`), only the local ``date``, and ``edited`` always written (the epoch when
  never edited).
- ``"2018"`` (the first JSON exports): no chat ``id`` and no ``from_id``/``actor_id``: senders and
  actors by name only; saved contacts without ``user_id``.

``malformed=n`` adds ``n`` elements that cannot be read to the first chat's messages, among the good
ones, cycling through :data:`MALFORMED` (a bad date, an element that is not an object, a non-integer
id): the reader must skip and count each and read the rest.
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
ERAS = ("current", "2021", "2019", "2018")
#: What each malformed element breaks, in the order they are written.
MALFORMED = ("date", "not an object", "id")
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
    era: str = "current",
    malformed: int = 0,
) -> Path:
    """Write ``out_dir/result.json`` (and the photos when ``include_media``) for the seizure's Telegram
    groups: service messages for creation and for each member's invite or join, and the posts the
    seizure holds (``net.visible``), in the shape of ``era``, with ``malformed`` unreadable elements
    among the first chat's messages. Returns the path of ``result.json``."""
    if era not in ERAS:
        raise ValueError(f"era {era!r} is not one of {', '.join(ERAS)}")
    groups = [g for g in seizure.groups if net.groups[g].platform == "telegram"]
    if not whole_account and len(groups) != 1:
        raise ValueError(f"a single-chat export holds one chat; {seizure.device} has {len(groups)}")
    tz = local_tz or export_zone(net, seizure)
    out_dir.mkdir(parents=True, exist_ok=True)
    visible: dict[str, list[Post]] = {g: [] for g in groups}
    for p in net.visible(seizure):
        if p.group in visible:
            visible[p.group].append(p)
    w = _Writer(net, tz, out_dir, include_media, era, malformed)
    path = out_dir / "result.json"
    with path.open("w", encoding="utf-8") as f:
        if not whole_account:
            w.chat(f, groups[0], visible[groups[0]], "", indent=0)
            f.write("\n")
            return path
        f.write("{\n " + _kv("about", ABOUT))
        owner = net.people.get(seizure.owner or "")
        if owner is not None:
            f.write(",\n " + _kv("personal_information", _personal(owner, era)))
            f.write(',\n "contacts": {\n  ' + _kv("about", "Contacts (synthetic).") + ',\n  "list": [')
            contacts = sorted({m for g in groups for m in net.members[g]} - {owner.key})[::2]
            f.write(",".join("\n   " + _dump(w.contact(net.people[c], groups)) for c in contacts))
            f.write("\n  ]\n }")
        f.write(',\n "chats": {\n  ' + _kv("about", "Chats (synthetic).") + ',\n  "list": [')
        for i, g in enumerate(groups):
            f.write(",\n   " if i else "\n   ")
            w.chat(f, g, visible[g], f"chats/chat_{i + 1:03d}/", indent=3)
        f.write("\n  ]\n }\n}\n")
    return path


def legacy_user_id(person: Person) -> int:
    """The person's user id as a 32-bit number, for eras whose exporter wrote ids as numbers (the
    network's ids are 64-bit, as Telegram's are today)."""
    return person.tg_id % 2**31


def legacy_chat_id(chat_id: int, user: bool = False) -> int:
    """The chat ``id`` the 2019-2020 exporter wrote: its peer id, the kind in bits 32 and up (1 for a
    user, 2 for a group or channel) and the bare id below."""
    return ((1 if user else 2) << 32) | chat_id


class _Writer:
    def __init__(
        self, net: Network, tz: tzinfo, out_dir: Path, include_media: bool, era: str, malformed: int
    ) -> None:
        self.net, self.tz, self.out_dir, self.include_media = net, tz, out_dir, include_media
        self.era, self.malformed = era, malformed
        self.count_malformed = 0
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
        if self.era in ("current", "2021"):
            f.write(pad + f' "id": {group.tg_id},\n')
        elif self.era == "2019":
            f.write(pad + f' "id": {legacy_chat_id(group.tg_id)},\n')
        f.write(pad + ' "messages": [')
        msgs = list(self._messages(group_key, posts, media_dir))
        bad, self.malformed = self.malformed, 0  # all in the first chat
        every = max(1, len(msgs) // (bad + 1))
        n = 0
        for i, msg in enumerate(msgs):
            n += 1
            msg = {"id": n, **msg}
            f.write(("," if n > 1 else "") + "\n" + pad + "  " + _dump(msg))
            if bad and (i + 1) % every == 0:
                n += 1
                f.write(",\n" + pad + "  " + _dump(self._malformed(n, group_key)))
                bad -= 1
        f.write("\n" + pad + " ]\n" + pad + "}")

    def _malformed(self, n: int, group_key: str) -> Any:
        """An element that cannot be read: the next of :data:`MALFORMED` (n numbers them)."""
        what = MALFORMED[self.count_malformed % len(MALFORMED)]
        self.count_malformed += 1
        if what == "not an object":
            return n
        creator = self.net.people[self.net.groups[group_key].creator]
        t = self.net.groups[group_key].created
        msg: dict[str, Any] = {"id": n, "type": "message", **self._dates(t), **self._from(creator)}
        msg["text"] = "unreadable element"
        if what == "id":
            msg["id"] = f"m{n}"
        elif "date_unixtime" in msg:
            msg["date_unixtime"] = "not a number"
        else:
            msg["date"] = "not a date"
        return msg

    def _from(self, person: Person) -> dict[str, Any]:
        return {"from": person.name, **({"from_id": pid} if (pid := self._peer(person)) else {})}

    def _actor(self, person: Person) -> dict[str, Any]:
        return {"actor": person.name, **({"actor_id": pid} if (pid := self._peer(person)) else {})}

    def _peer(self, person: Person) -> str | int | None:
        if self.era == "2018":
            return None
        return legacy_user_id(person) if self.era == "2019" else f"user{person.tg_id}"

    def contact(self, person: Person, groups: list[str]) -> dict[str, Any]:
        """A saved contact, added when the owner first met them in a group."""
        first, last = _split(person.name)
        t = min(self.net.members[k][person.key] for k in groups if person.key in self.net.members[k])
        uid = {"user_id": legacy_user_id(person) if self.era == "2019" else person.tg_id}
        return {
            **(uid if self.era != "2018" else {}),
            "first_name": first,
            "last_name": last,
            "phone_number": _phone(person),
            **self._dates(t, edited=False),
        }

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
                    **self._actor(creator),
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
                body = {**self._actor(creator), "action": "invite_members", "members": [person.name]}
            else:  # joined with the creator's link
                body = {**self._actor(person), "action": "join_group_by_link", "inviter": creator.name}
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
            **self._from(sender),
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

    def _dates(self, t: datetime, edited: bool = True) -> dict[str, str]:
        local = t.astimezone(self.tz).replace(tzinfo=None).isoformat(timespec="seconds")
        if self.era == "current":
            return {"date": local, "date_unixtime": str(int(t.timestamp()))}
        if self.era == "2021" or not edited:
            return {"date": local}
        # The 2018-2020 exporter wrote "edited" for every message: the epoch when it never was.
        epoch = datetime.fromtimestamp(0, UTC).astimezone(self.tz).replace(tzinfo=None)
        return {"date": local, "edited": epoch.isoformat(timespec="seconds")}


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


def _phone(person: Person) -> str:
    num = phonenumbers.parse(person.phone)
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _personal(person: Person, era: str) -> dict[str, Any]:
    first, last = _split(person.name)
    return {
        "user_id": legacy_user_id(person) if era in ("2019", "2018") else person.tg_id,
        "first_name": first,
        "last_name": last,
        "phone_number": _phone(person),
        "username": "@" + person.tg_username,
    }


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _kv(key: str, value: Any) -> str:
    return f"{_dump(key)}: {_dump(value)}"
