"""A synthetic messaging operation with known ground truth.

People (invented names, randomly generated phone numbers of several countries, Telegram ids), groups on
WhatsApp and Telegram, memberships with join times, and posts of known and new media items (generated
abstract images) with realistic timing: an item is first posted by one account and then forwarded into
other groups by members who bridge them. Seized phones hold their owner's view of their groups; patrol
captures are chat exports of one group. Writers for each source format live beside this module
(``tessera.synth.msgstore``, ``tessera.synth.wa_export``, ``tessera.synth.telegram``) and render a
``Network`` as evidence files, so tests can compare what the analysis recovers with the truth here.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import phonenumbers

from tessera.synth.images import encode, photo_image

COUNTRIES = ("ES", "PT", "BR", "MX", "AR", "CO", "US", "GB", "DE", "IT")
_T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Person:
    key: str  # "P0007"
    name: str  # invented display name
    phone: str  # E.164, randomly generated for the country
    country: str
    tg_id: int  # Telegram user id
    tg_username: str

    @property
    def wa_jid(self) -> str:
        return self.phone.lstrip("+") + "@s.whatsapp.net"

    @property
    def lid(self) -> str:
        """The privacy identity (``@lid``) newer WhatsApp versions use for the same account."""
        return f"{int(hashlib.sha256(self.key.encode()).hexdigest()[:13], 16)}@lid"


@dataclass(frozen=True, slots=True)
class Group:
    key: str  # "G03"
    platform: str  # whatsapp | telegram
    title: str
    created: datetime
    creator: str  # person key
    number: int

    @property
    def wa_jid(self) -> str:
        return f"1203634{self.number:011d}@g.us"

    @property
    def tg_id(self) -> int:
        return 1_700_000_000 + self.number


@dataclass(frozen=True, slots=True)
class Item:
    key: str  # "M012"
    data: bytes  # JPEG bytes of a generated abstract image
    known: bool  # on the known-material list

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    group: str
    sender: str  # person key
    time: datetime
    kind: str  # text | image
    text: str | None = None
    item: str | None = None  # item key for media posts
    forwarded: bool = False


@dataclass(frozen=True, slots=True)
class Seizure:
    """One evidence source: a seized phone's messaging data, or a patrol capture of one group."""

    device: str  # "P-01"
    kind: str  # phone | capture
    owner: str | None  # person key (None for a patrol capture)
    format: str  # msgstore-current | msgstore-legacy | wa-export-android | wa-export-ios | telegram
    groups: tuple[str, ...]
    locale: str = "en"  # en | es | pt (chat exports)


@dataclass
class Network:
    seed: int
    people: dict[str, Person] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    #: group key -> person key -> join time
    members: dict[str, dict[str, datetime]] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    seizures: list[Seizure] = field(default_factory=list)

    # --- views a writer needs ------------------------------------------------------------------

    def posts_in(self, group: str) -> list[Post]:
        return [p for p in self.posts if p.group == group]

    def visible(self, seizure: Seizure) -> list[Post]:
        """Posts a source holds: a phone sees its groups from its owner's joining; a capture, all."""
        out = []
        for p in self.posts:
            if p.group not in seizure.groups:
                continue
            if seizure.owner is not None and p.time < self.members[p.group][seizure.owner]:
                continue
            out.append(p)
        return out

    # --- ground truth --------------------------------------------------------------------------

    def first_posts(self) -> dict[str, Post]:
        """Item key -> the first post of it among the posts some seizure holds."""
        seen = {p.id for s in self.seizures for p in self.visible(s)}
        first: dict[str, Post] = {}
        for p in sorted(self.posts, key=lambda p: (p.time, p.id)):
            if p.item and p.id in seen and p.item not in first:
                first[p.item] = p
        return first

    def bridges(self, platform: str = "whatsapp") -> set[str]:
        """Person keys whose account on ``platform`` posted in two or more groups (as sources show)."""
        seen = {p.id for s in self.seizures for p in self.visible(s)}
        groups: dict[str, set[str]] = {}
        for p in self.posts:
            if p.id in seen and self.groups[p.group].platform == platform:
                groups.setdefault(p.sender, set()).add(p.group)
        return {k for k, g in groups.items() if len(g) >= 2}

    def seen_on(self, seizure: Seizure) -> set[str]:
        """Person keys a source shows: its owner, the senders it holds, and (in a phone's database)
        the member lists of its groups. Chat exports show senders only."""
        seen = {p.sender for p in self.visible(seizure)}
        if seizure.owner is not None:
            seen.add(seizure.owner)
        if seizure.format.startswith("msgstore"):
            for g in seizure.groups:
                seen.update(self.members[g])
        return seen

    def cross_device(self, platform: str = "whatsapp") -> set[str]:
        """Person keys seen on two or more seized devices of one platform."""
        devices: dict[str, set[str]] = {}
        for s in self.seizures:
            if (s.format == "telegram") != (platform == "telegram"):
                continue
            for person in self.seen_on(s):
                devices.setdefault(person, set()).add(s.device)
        return {k for k, d in devices.items() if len(d) >= 2}


def _phone(rng: random.Random, country: str) -> str:
    """A random number valid for the country's mobile plan (invented; not anyone's)."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    national = str(example.national_number)
    for _ in range(1000):
        tail = "".join(rng.choice("0123456789") for _ in range(len(national) - 3))
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(national[:3] + tail)
        )
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    raise RuntimeError(f"could not generate a valid {country} number")


def make_network(
    seed: int = 1,
    *,
    n_people: int = 40,
    n_wa_groups: int = 4,
    n_tg_groups: int = 1,
    n_items: int = 16,
    known_fraction: float = 0.5,
    n_posts: int = 300,
    image_size: tuple[int, int] = (320, 240),
) -> Network:
    rng = random.Random(seed)
    net = Network(seed)
    for i in range(n_people):
        country = COUNTRIES[i % len(COUNTRIES)]
        key = f"P{i + 1:04d}"
        net.people[key] = Person(
            key,
            f"Member {i + 1:04d}",
            _phone(rng, country),
            country,
            5_000_000_000 + i * 7919,
            f"member_{i + 1:04d}",
        )
    people = list(net.people)
    n_groups = n_wa_groups + n_tg_groups
    for g in range(n_groups):
        platform = "whatsapp" if g < n_wa_groups else "telegram"
        created = _T0 + timedelta(days=g * 2, hours=rng.randint(0, 12))
        members = rng.sample(people, k=max(6, len(people) // 3))
        key = f"G{g + 1:02d}"
        net.groups[key] = Group(key, platform, f"Group {g + 1:02d}", created, members[0], g + 1)
        net.members[key] = {m: created + timedelta(minutes=5 * j) for j, m in enumerate(members)}
    for k in range(n_items):
        img = photo_image(seed * 10_000 + k, *image_size)
        net.items[f"M{k + 1:03d}"] = Item(
            f"M{k + 1:03d}", encode(img, "JPEG", quality=88), known=k < int(n_items * known_fraction)
        )
    # Each item is introduced by one member of one group, then forwarded by members of that group
    # who also belong to other groups of the same platform (the bridges), later in time.
    post_id = 0
    posts: list[Post] = []
    for item in net.items.values():
        group = rng.choice(list(net.groups.values()))
        joined = net.members[group.key]
        sender = rng.choice(list(joined))
        t = max(joined[sender], group.created) + timedelta(
            hours=rng.randint(1, 72), minutes=rng.randint(0, 59)
        )
        post_id += 1
        posts.append(Post(post_id, group.key, sender, t, "image", None, item.key))
        for other in net.groups.values():
            if other.key == group.key or other.platform != group.platform:
                continue
            carriers = [p for p in joined if p in net.members[other.key]]
            if carriers and rng.random() < 0.6:
                carrier = rng.choice(carriers)
                t2 = t + timedelta(hours=rng.randint(1, 48), minutes=rng.randint(1, 59))
                post_id += 1
                posts.append(Post(post_id, other.key, carrier, t2, "image", None, item.key, forwarded=True))
    # Chatter: text messages between the media posts.
    while len(posts) < n_posts:
        group = rng.choice(list(net.groups.values()))
        sender = rng.choice(list(net.members[group.key]))
        t = net.members[group.key][sender] + timedelta(hours=rng.randint(1, 400), minutes=rng.randint(0, 59))
        post_id += 1
        posts.append(Post(post_id, group.key, sender, t, "text", f"message {post_id} in {group.title}"))
    net.posts = sorted(posts, key=lambda p: (p.time, p.id))
    _seize(net, rng)
    return net


def _seize(net: Network, rng: random.Random) -> None:
    """Phones of a few members (one per WhatsApp source format) and patrol captures of every group."""
    wa = [g for g in net.groups.values() if g.platform == "whatsapp"]
    tg = [g for g in net.groups.values() if g.platform == "telegram"]
    # Owners in two or more groups make the cross-device picture interesting.
    counts = {p: sum(p in net.members[g.key] for g in wa) for p in net.people}
    owners = sorted(net.people, key=lambda p: (-counts[p], p))[:2]
    for n, (owner, fmt) in enumerate(zip(owners, ("msgstore-current", "msgstore-legacy"), strict=True)):
        groups = tuple(g.key for g in wa if owner in net.members[g.key])
        net.seizures.append(Seizure(f"P-{n + 1:02d}", "phone", owner, fmt, groups))
    styles = (("wa-export-android", "en"), ("wa-export-ios", "es"), ("wa-export-android", "pt"))
    for n, g in enumerate(wa):
        fmt, locale = styles[n % len(styles)]
        net.seizures.append(Seizure(f"C-{n + 1:02d}", "capture", None, fmt, (g.key,), locale))
    for n, g in enumerate(tg):
        owner = next(iter(net.members[g.key]))
        net.seizures.append(Seizure(f"T-{n + 1:02d}", "phone", owner, "telegram", (g.key,)))
    _ = rng
