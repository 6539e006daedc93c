"""An operation in which every picture changes on every hop, with the truth of how it spread.

Messaging apps recompress what they carry, so each forward of an item into another group is a new file:
here every hop recompresses (JPEG quality), resizes or re-encodes (WebP) the previous copy, and the
generator keeps a hop only when its PDQ distance from the previous copy is 1-30 bits (measured, with
both hashes of quality >= 50). People, groups and memberships come from ``tessera.synth.network``.

``load`` stores the operation in a case database the way ingest would leave it (devices, messaging
sources, accounts, chats, memberships, messages with the app's hash, files and media with their PDQ):
phones hold their owner's groups from joining, a patrol capture holds each group whole, and a phone
misses the file of about one post in four that a capture still holds (the app hash names it).
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS
from tessera.hashing.image import analyse_image
from tessera.synth.images import encode, photo_image
from tessera.synth.network import Item as NetItem
from tessera.synth.network import Network, Post, Seizure, make_network

MAX_HOP_DISTANCE = 30


@dataclass(frozen=True, slots=True)
class Copy:
    key: str  # "M003.2"
    item: str  # "M003"
    parent: str | None  # the copy it was made from
    data: bytes
    pdq: str
    quality: int
    transform: str  # original | recompress | resize | reencode
    distance: int  # PDQ bits from the parent copy (0 for the original)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class HopPost:
    id: int
    group: str
    sender: str
    time: datetime
    item: str
    copy: str
    parent: int | None  # the post it was forwarded from (None: the first post)


@dataclass(frozen=True, slots=True)
class HopSeizure:
    device: str
    owner: str | None  # None: a patrol capture
    groups: tuple[str, ...]


@dataclass
class HopOperation:
    net: Network
    copies: dict[str, Copy] = field(default_factory=dict)
    posts: list[HopPost] = field(default_factory=list)
    seizures: list[HopSeizure] = field(default_factory=list)
    #: (device, post id) whose file the phone no longer holds
    missing: set[tuple[str, int]] = field(default_factory=set)

    def visible(self, s: HopSeizure) -> list[HopPost]:
        return [
            p
            for p in self.posts
            if p.group in s.groups and (s.owner is None or p.time >= self.net.members[p.group][s.owner])
        ]

    # --- ground truth ----------------------------------------------------------------------------

    def first_poster(self, item: str) -> HopPost:
        return min((p for p in self.posts if p.item == item), key=lambda p: (p.time, p.id))

    def spread(self, item: str) -> set[tuple[str, str, datetime, str]]:
        """Every post of the item as (group, sender, time, copy SHA-256)."""
        return {(p.group, p.sender, p.time, self.copies[p.copy].sha256) for p in self.posts if p.item == item}


def _minute(t: datetime) -> datetime:
    """Posts fall on whole minutes: a chat export states the minute only, and the same post read from a
    phone's database and from a capture must be one sighting (rounded up, so never before a join)."""
    up = t.replace(second=0, microsecond=0)
    return up if up == t else up + timedelta(minutes=1)


def _transform(img: Image.Image, kind: str, rng: random.Random) -> bytes:
    if kind == "recompress":
        return encode(img, "JPEG", quality=rng.randint(35, 80))
    if kind == "resize":
        scale = rng.uniform(0.55, 0.9)
        small = img.resize(
            (max(64, int(img.width * scale)), max(64, int(img.height * scale))), Image.Resampling.BILINEAR
        )
        return encode(small, "JPEG", quality=rng.randint(60, 90))
    return encode(img, "WEBP", quality=rng.randint(30, 75))


def _hop(parent: Copy, key: str, rng: random.Random) -> Copy:
    img = Image.open(io.BytesIO(parent.data)).convert("RGB")
    for _ in range(40):
        kind = rng.choice(("recompress", "resize", "reencode"))
        data = _transform(img, kind, rng)
        facts = analyse_image(data, fast_decode=False)
        if facts.pdq is None or not ALGORITHMS.get("pdq").usable(facts.pdq_quality):
            continue
        d = bin(int(facts.pdq, 16) ^ int(parent.pdq, 16)).count("1")
        if 1 <= d <= MAX_HOP_DISTANCE:
            return Copy(key, parent.item, parent.key, data, facts.pdq, int(facts.pdq_quality or 0), kind, d)
    raise RuntimeError(f"no hop of {parent.key} within 1-{MAX_HOP_DISTANCE} bits")  # pragma: no cover


def make_hops(seed: int = 7, *, n_people: int = 30, n_groups: int = 5, n_items: int = 10) -> HopOperation:
    rng = random.Random(seed)
    net = make_network(seed, n_people=n_people, n_wa_groups=n_groups, n_tg_groups=0, n_items=0, n_posts=0)
    op = HopOperation(net)
    groups = list(net.groups.values())
    post_id = 0
    for k in range(n_items):
        item = f"M{k + 1:03d}"
        data = encode(photo_image(seed * 1000 + k, 480, 360), "JPEG", quality=90)
        facts = analyse_image(data, fast_decode=False)
        assert facts.pdq is not None
        origin = Copy(f"{item}.0", item, None, data, facts.pdq, int(facts.pdq_quality or 0), "original", 0)
        op.copies[origin.key] = origin
        g = rng.choice(groups)
        sender = rng.choice(list(net.members[g.key]))
        t = _minute(max(net.members[g.key][sender], g.created) + timedelta(hours=rng.randint(1, 48)))
        post_id += 1
        first = HopPost(post_id, g.key, sender, t, item, origin.key, None)
        op.posts.append(first)
        frontier, reached = [first], {g.key}
        # Forwarding: a member of the group a post is in carries it into another group of theirs,
        # each time as a new copy made from the one they received.
        while frontier:
            src = frontier.pop(0)
            for other in groups:
                if other.key in reached:
                    continue
                carriers = [
                    p
                    for p, j in net.members[src.group].items()
                    if p in net.members[other.key] and j <= src.time
                ]
                if not carriers or rng.random() < 0.35:
                    continue
                who = rng.choice(carriers)
                when = _minute(
                    max(src.time, net.members[other.key][who]) + timedelta(hours=rng.randint(1, 30))
                )
                copy = _hop(op.copies[src.copy], f"{item}.{len(reached)}", rng)
                op.copies[copy.key] = copy
                post_id += 1
                post = HopPost(post_id, other.key, who, when, item, copy.key, src.id)
                op.posts.append(post)
                reached.add(other.key)
                frontier.append(post)
    op.posts.sort(key=lambda p: (p.time, p.id))
    counts = {p: sum(p in net.members[g.key] for g in groups) for p in net.people}
    for n, owner in enumerate(sorted(net.people, key=lambda p: (-counts[p], p))[:3]):
        mine = tuple(g.key for g in groups if owner in net.members[g.key])
        op.seizures.append(HopSeizure(f"P-{n + 1:02d}", owner, mine))
    for n, g in enumerate(groups):
        op.seizures.append(HopSeizure(f"C-{n + 1:02d}", None, (g.key,)))
    for s in op.seizures:
        if s.owner is not None:
            op.missing |= {(s.device, p.id) for p in op.visible(s) if rng.random() < 0.25}
    return op


def as_network(op: HopOperation) -> Network:
    """The operation as a ``Network`` whose every copy is an item of its own (the bytes each hop
    carries), so ``tessera.synth.seizures.write_seizures`` renders it as real evidence: owners' phones
    as Android extraction folders (msgstore.db with the app's hash of every image, some files deleted),
    patrol captures as WhatsApp chat-export zips with their media."""
    net = op.net
    out = Network(net.seed, dict(net.people), dict(net.groups), {k: dict(v) for k, v in net.members.items()})
    out.items = {c.key: NetItem(c.key, c.data, False) for c in op.copies.values()}
    out.posts = [
        Post(p.id, p.group, p.sender, p.time, "image", None, p.copy, forwarded=p.parent is not None)
        for p in op.posts
    ]
    for s in op.seizures:
        fmt = "msgstore-current" if s.owner else "wa-export-android"
        out.seizures.append(Seizure(s.device, "phone" if s.owner else "capture", s.owner, fmt, s.groups))
    return out


def load(session: Session, op: HopOperation) -> None:
    """Store the operation as ingest would leave it (the caller commits)."""
    from tessera.store import models as m

    accounts: dict[str, m.Account] = {}
    for key, person in op.net.people.items():
        acc = m.Account(
            platform="whatsapp",
            key=person.wa_jid,
            phone=person.phone,
            country=person.country,
            display_name=person.name,
            names=[person.name],
        )
        session.add(acc)
        accounts[key] = acc
    chats: dict[str, m.Chat] = {}
    for g in op.net.groups.values():
        chat = m.Chat(platform="whatsapp", key=g.wa_jid, title=g.title, kind="group", created_at=g.created)
        session.add(chat)
        chats[g.key] = chat
    session.flush()
    for gkey, joins in op.net.members.items():
        for who, joined in joins.items():
            session.add(m.Membership(chat_id=chats[gkey].id, account_id=accounts[who].id, joined_at=joined))
    for c in op.copies.values():
        session.add(
            m.Media(
                sha256=c.sha256,
                md5=hashlib.md5(c.data).hexdigest(),
                sha1=hashlib.sha1(c.data).hexdigest(),
                size=len(c.data),
                kind="image",
                mime="image/webp" if c.transform == "reencode" else "image/jpeg",
                pdq=c.pdq,
                pdq_quality=c.quality,
            )
        )
    session.flush()
    for s in op.seizures:
        session.add(m.Device(id=s.device, kind="phone" if s.owner else "capture"))
        session.flush()
        src = m.MessagingSource(
            device_id=s.device, locator="msgstore.db", parser="synth-hops", status="complete"
        )
        session.add(src)
        session.flush()
        for p in op.visible(s):
            c = op.copies[p.copy]
            path = f"Media/WhatsApp Images/{c.key}.jpg"
            session.add(
                m.Message(
                    device_id=s.device,
                    source_id=src.id,
                    locator=f"msgstore.db#message/{p.id}",
                    chat_id=chats[p.group].id,
                    sender_id=accounts[p.sender].id,
                    time=p.time,
                    kind="image",
                    forwarded=p.parent is not None,
                    media_sha256=c.sha256,
                    media_path=path,
                )
            )
            if (s.device, p.id) not in op.missing:
                session.add(
                    m.File(
                        device_id=s.device,
                        locator=path,
                        raw_path=path.encode(),
                        size=len(c.data),
                        sha256=c.sha256,
                    )
                )
    session.flush()
