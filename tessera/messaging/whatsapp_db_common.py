"""Shared pieces of the WhatsApp ``msgstore.db`` readers: opening evidence read-only, schema checks,
JID helpers and the code tables WhatsApp uses in both schemas.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from tessera.evidence.base import last_name, open_item
from tessera.evidence.base import read_head as _evidence_head
from tessera.messaging.base import ParseContext
from tessera.messaging.records import AccountRecord, ParseError
from tessera.records import Opener

PLATFORM = "whatsapp"
SQLITE_MAGIC = b"SQLite format 3\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CRYPT = re.compile(r".*\.crypt\d+$", re.IGNORECASE)

#: Servers of JIDs that name a person's account (phone JID, privacy identity, old web form).
USER_SERVERS = frozenset({"s.whatsapp.net", "lid", "c.us"})

#: message_type (current) / media_wa_type (legacy) -> record kind. Anything else is "other"; the
#: number is always kept in ``raw["message_type"]``.
KINDS: dict[int, str] = {
    0: "text",
    1: "image",
    2: "audio",
    3: "video",
    7: "system",
    9: "document",
    13: "video",  # GIF: an MP4 on disk
    20: "sticker",
    42: "image",  # view-once image
    43: "video",  # view-once video
}

#: message_system.action_type (current) / media_size of a status-6 row (legacy) -> action.
ACTIONS: dict[int, str] = {
    1: "renamed",
    4: "joined",
    5: "left",
    6: "photo_changed",
    7: "removed",
    11: "created",
    12: "added",
    14: "removed",
    15: "promoted",
    20: "joined",  # by invite link; raw["action_type"] tells it apart
    27: "description_changed",
}

#: group_participant_user.rank / group_participants.admin -> role (2 is the superadmin: the creator).
ROLES = {0: "member", 1: "admin", 2: "creator"}


def ms_to_utc(ms: int | None, _from: Callable[..., datetime] = datetime.fromtimestamp) -> datetime:
    """WhatsApp stores epoch milliseconds. ``fromtimestamp(ms / 1000)`` is exact to the millisecond
    (a double is off by < 1 us until the year 2200 and the result is rounded to the microsecond) and
    twice as fast as timedelta arithmetic, which stays as the fallback for NULL or absurd values."""
    try:
        return _from(ms / 1000, UTC)  # type: ignore[operator]
    except (TypeError, ValueError, OverflowError, OSError):
        try:
            return _EPOCH + timedelta(milliseconds=ms or 0)
        except OverflowError:
            return _EPOCH


def decode_file_hash(value: str | bytes | None) -> str | None:
    """``file_hash``/``media_hash``: base64 of the SHA-256 of the plaintext file -> lower hex."""
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def chat_kind(jid: str) -> str:
    if jid.endswith("@g.us"):
        return "group"
    if jid.endswith("@broadcast"):
        return "broadcast"  # status@broadcast (stories) and broadcast lists
    if jid.endswith("@newsletter"):
        return "channel"
    return "private"


def is_user_jid(jid: str | None) -> bool:
    return bool(jid) and jid.rpartition("@")[2] in USER_SERVERS  # type: ignore[union-attr]


def phone_of(jid: str) -> str | None:
    """A phone JID's user part is the international number; ``@lid`` users are not numbers."""
    user, _, server = jid.partition("@")
    user = user.split(":", 1)[0].split(".", 1)[0]  # device suffixes: 3461...:12@s.whatsapp.net
    if server in ("s.whatsapp.net", "c.us") and user.isdigit():
        return "+" + user
    return None


def account_jid(raw: str) -> str:
    """The person's account JID for any device JID of theirs, else ``raw`` unchanged.

    Multi-device WhatsApp names each of a person's devices ``N.A:D@s.whatsapp.net`` or
    ``N:D@s.whatsapp.net`` (``@lid`` ids likewise): ``N`` is the person, the suffix one device. The
    user digits are kept exactly as written; nothing is added to or dropped from them."""
    user, at, server = raw.partition("@")
    if not at or server not in USER_SERVERS or not (":" in user or "." in user):
        return raw
    base = user.split(":", 1)[0].split(".", 1)[0]
    return f"{base}@{server}" if base.isdigit() else raw


def is_owner_form(raw: str | None) -> bool:
    """How WhatsApp writes "me": ``status_me`` (jid row of server ``status_me``), an empty or NULL
    participant JID in the legacy tables. These name the device owner, never an account of their own
    (``status_me`` is the same string on every phone: as an identifier it would merge all owners)."""
    return not raw or raw == "me" or raw.rpartition("@")[2] == "status_me"


#: WhatsApp's shared preferences, reached from ``databases/`` on a full file-system extraction:
#: ``registration_jid`` (or ``cc`` + ``ph``) is the owner's number, ``push_name`` the name they chose.
SHARED_PREFS = (
    "../shared_prefs/com.whatsapp_preferences_light.xml",
    "../shared_prefs/com.whatsapp_preferences.xml",
)
#: WhatsApp Business names them after its own package, ``com.whatsapp.w4b``.
BUSINESS_PREFS = (
    "../shared_prefs/com.whatsapp.w4b_preferences_light.xml",
    "../shared_prefs/com.whatsapp.w4b_preferences.xml",
)
_PREF = re.compile(rb'<string name="(registration_jid|cc|ph|push_name)">([^<]{1,200})</string>')


@dataclass(frozen=True)
class App:
    """Which WhatsApp app wrote a ``msgstore.db``: both write the same schema on the same network
    (a JID is one account whichever app shows it), but each has its own owner, preferences and media."""

    title: str  # "WhatsApp", "WhatsApp Business": what the examiner is shown
    package: str
    prefs: tuple[str, ...]
    #: The parser option naming this app's owner. The two apps of one phone are usually registered on
    #: two numbers (the Business app on a second SIM), so the WhatsApp ``owner`` is never applied to
    #: the Business app: its owner comes from its own option or preferences, else a placeholder.
    owner_option: str
    placeholder: str  # the unknown owner's placeholder: ``whatsapp:<placeholder>@<device>``


WHATSAPP = App("WhatsApp", "com.whatsapp", SHARED_PREFS, "owner", "owner")
BUSINESS = App("WhatsApp Business", "com.whatsapp.w4b", BUSINESS_PREFS, "business_owner", "business-owner")


@dataclass(frozen=True)
class Owner:
    raw_id: str
    real: bool  # False for the placeholder
    name: str | None = None
    locator: str | None = None  # where the owner's identity was read


def _prefs(
    sibling: Callable[[str], Opener | None], names: tuple[str, ...] = SHARED_PREFS
) -> tuple[dict[str, str], str] | None:
    for rel in names:
        opener = sibling(rel)
        if opener is None:
            continue
        try:
            # Evidence is opened read-only and without touching its access time (open_item).
            with open_item(opener) as fh:
                data = fh.read(1 << 20)
        except (OSError, ValueError):
            continue
        # A regex over the first MiB, not an XML parser: nothing in a seized file gets to expand.
        pairs = _PREF.findall(data)
        found = {k.decode(): html.unescape(v.decode("utf-8", "replace")) for k, v in pairs}
        if found:
            return found, rel
    return None


def find_owner(ctx: ParseContext, app: App = WHATSAPP) -> Owner:
    """The device owner, whose own messages ``msgstore.db`` stores without a sender.

    In order: ``options["owner"]`` (a JID or a number the examiner gives; ``business_owner`` for
    WhatsApp Business), the app's shared preferences beside the ``databases`` folder, else the
    placeholder ``whatsapp:owner@<device>`` (``whatsapp:business-owner@<device>``).
    """
    given = ctx.options.get(app.owner_option, "").strip()
    if given:
        if "@" in given:
            return Owner(account_jid(given), True)  # a device JID given names the same person
        digits = re.sub(r"\D", "", given)
        if digits:
            return Owner(digits + "@s.whatsapp.net", True)
    prefs = _prefs(ctx.sibling, app.prefs)
    if prefs is not None:
        values, rel = prefs
        jid = values.get("registration_jid", "").split("@", 1)[0]
        digits = jid if jid.isdigit() else re.sub(r"\D", "", values.get("cc", "") + values.get("ph", ""))
        if len(digits) >= 7:
            where = ctx.locator.rsplit("/", 1)[0] + "/" + rel
            return Owner(digits + "@s.whatsapp.net", True, values.get("push_name"), where)
    return Owner(f"whatsapp:{app.placeholder}@{ctx.device_id or 'device'}", False)


def owner_record(
    owner: Owner, contact_name: str | None, locator: str, aliases: list[str] | None = None
) -> AccountRecord:
    return AccountRecord(
        PLATFORM,
        owner.raw_id,
        phone=phone_of(owner.raw_id) if owner.real else None,
        display_name=owner.name or contact_name,
        aliases=list(aliases or ()),
        is_device_owner=True,
        locator=owner.locator or locator,
    )


def lost_chat(ctx: ParseContext, row: object) -> str:
    """The id of a chat known only by its row id (its ``chat`` or ``jid`` row is gone): documented
    as a placeholder like the owner's, never a JID, and unique to the device and database file."""
    return f"whatsapp:chat-row-{row}@{ctx.device_id or 'device'}{ctx.locator}"


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def require(conn: sqlite3.Connection, required: dict[str, tuple[str, ...]], name: str, what: str) -> None:
    """Raise ParseError naming every required table or column the database lacks (``what`` says what
    the file is not: "a WhatsApp msgstore database (current schema)")."""
    have = tables(conn)
    missing: list[str] = []
    for table, cols in required.items():
        if table not in have:
            missing.append(f"table {table}")
            continue
        lacking = [c for c in cols if c not in columns(conn, table)]
        if lacking:
            missing.append(", ".join(f"{table}.{c}" for c in lacking))
    if missing:
        raise ParseError(f"{name}: not {what}: missing {'; '.join(missing)}")


def col(have: set[str], alias: str, name: str, *alternatives: str) -> str:
    """``alias.name`` when the column exists (or the first alternative that does), else NULL:
    optional columns come and go between WhatsApp versions."""
    for c in (name, *alternatives):
        if c in have:
            return f"{alias}.{c}"
    return "NULL"


# --- opening evidence ----------------------------------------------------------------------------


def base_name(locator: str) -> str:
    return last_name(locator).rstrip("/").rsplit("/", 1)[-1]


def read_head(opener: Opener, n: int = 100) -> bytes:
    return _evidence_head(opener, n)  # read-only, access time untouched


def check_head(head: bytes, name: str) -> None:
    if head.startswith(SQLITE_MAGIC):
        return
    if _CRYPT.match(name):
        raise ParseError(
            f"{name} is an encrypted WhatsApp backup; decrypt it (with the key from the device) "
            "and ingest the decrypted msgstore.db"
        )
    hint = ""
    if "msgstore" in name.lower():
        hint = (
            " (an encrypted WhatsApp backup renamed? decrypt it with the key from the device and ingest"
            " the decrypted msgstore.db)"
        )
    raise ParseError(f"{name}: not an SQLite database{hint}")


@dataclass
class Opened:
    conn: sqlite3.Connection
    via_copy: bool = False
    _tmp: list[Path] = field(default_factory=list)


def _uri(path: str) -> str:
    # quote keeps "/" but escapes "?", "#", "%" and spaces that would break the URI.
    return "file:" + quote(str(Path(path).resolve())) + "?mode=ro&immutable=1"


def _write(opener: Opener, dest: Path) -> None:
    with open_item(opener) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


#: Header bytes 18-19 (file format write/read version): 2 = WAL mode, 1 = rollback journal.
_WAL_MODE = b"\x02\x02"


def memory_image(data: bytes) -> bytes:
    """The bytes to ``deserialize``: an in-memory database cannot be in WAL mode (SQLite answers
    "unable to open database file", which quick_check reported as damage), so a WAL-mode header is
    switched to rollback mode in this private copy. With no WAL content to replay the two modes read
    the same pages; the evidence bytes themselves are not changed."""
    if data[18:20] != _WAL_MODE:
        return data
    image = bytearray(data)
    image[18:20] = b"\x01\x01"
    return bytes(image)


@contextmanager
def open_evidence_db(
    opener: Opener, name: str, sibling: Callable[[str], Opener | None], scratch: Path
) -> Iterator[sqlite3.Connection]:
    """Open an evidence SQLite file without ever writing beside it.

    Without a ``-wal`` sibling: a copy in scratch space, made through the read-only (O_NOATIME)
    helper and opened with ``immutable=1``, or ``deserialize`` for bytes read out of a container.
    With one: the committed transactions in the WAL belong to the database, so db and wal are copied
    into scratch space and the copy is opened normally (SQLite replays the WAL into the copy, never
    into the evidence).
    """
    check_head(read_head(opener), name)
    wal = sibling(name + "-wal")
    tmpdir: Path | None = None
    try:
        if wal is not None and (wal.data is None or len(wal.data) > 0):
            scratch.mkdir(parents=True, exist_ok=True)
            tmpdir = Path(tempfile.mkdtemp(prefix="msgstore-", dir=scratch))
            _write(opener, tmpdir / "db")
            _write(wal, tmpdir / "db-wal")
            conn = sqlite3.connect(tmpdir / "db")
        elif opener.data is not None:
            conn = sqlite3.connect(":memory:")
            conn.deserialize(memory_image(opener.data))
        else:
            # SQLite opens files itself, without O_NOATIME: reading the evidence in place would
            # change its access time. A copy made through the read-only helper is read instead.
            assert opener.path is not None
            scratch.mkdir(parents=True, exist_ok=True)
            tmpdir = Path(tempfile.mkdtemp(prefix="msgstore-", dir=scratch))
            _write(opener, tmpdir / "db")
            conn = sqlite3.connect(_uri(str(tmpdir / "db")), uri=True)
        try:
            conn.execute("PRAGMA query_only = 1")
            yield conn
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ParseError(f"{name}: unreadable SQLite database: {exc}") from exc
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def quick_check(conn: sqlite3.Connection, name: str) -> None:
    """Refuse a damaged database before yielding anything: the pipeline stores nothing of a source
    whose parse raised, and a half-read database would look complete."""
    try:
        problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        raise ParseError(f"{name}: damaged SQLite database: {exc}") from exc
    if problems != ["ok"]:
        raise ParseError(f"{name}: damaged SQLite database: {'; '.join(problems)}")
