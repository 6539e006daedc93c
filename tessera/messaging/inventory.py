"""The app inventory of a device: every known messaging app found, parsed or "present, not parsed".

An app shows itself three ways, strongest first: a message store a parser reads (its source row),
a file a known-app entry names (``signal.db`` under ``securesms``), and a path naming the app's
package, bundle id or app group (``data/data/org.thoughtcrime.securesms/``,
``group.org.whispersystems.signal.group.plist``). iOS 17's ``storeSystem.db`` adds a fourth, weaker
one: the App Store's update records of the apps installed (``app_updates.bundle_id``); an app known
only from there is listed as installed, with no data in the extraction.

Each app is recorded once per device: one ``messaging_source`` row per known-app entry, its locator
the first evidence seen, every other evidence locator in the row's notes (the first 20, then the
count). An app-level entry (folder, ids, installed) is recorded only where nothing else already
stands for that app on the device: a parsed source or a row for one of its files.
"""

from __future__ import annotations

import plistlib
import posixpath
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.evidence.base import last_name, read_head
from tessera.evidence.devicepath import canonical, device_path
from tessera.messaging.apps import APPS, app_of_source, identify, recognise
from tessera.messaging.coverage import COMPLETE, FAILED, NOT_PARSED, PARTIAL, Coverage
from tessera.records import EvidenceItem, Opener
from tessera.store import models as m

#: Evidence locators kept in a row's notes; the rest are counted.
MAX_NOTED = 20
STORE_SYSTEM = "storesystem.db"
#: The file in each iOS container (data, app group) naming its bundle or group id.
CONTAINER_PLIST = ".com.apple.mobile_container_manager.metadata.plist"
#: The name rows about an unreadable App Store database are listed under.
STORE_PARSER = "ios-storesystem"
_RANK = {COMPLETE: 0, PARTIAL: 1, FAILED: 2, NOT_PARSED: 3}


@dataclass
class Found:
    """What the walk showed of one known-app entry on the device."""

    locators: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    kind: str = "file"  # file | data | installed

    def add(self, locator: str) -> None:
        if locator not in self.seen:
            self.seen.add(locator)
            self.locators.append(locator)


@dataclass
class AppFinder:
    """Looks at each walked item once (a regex on the locator), and keeps the App Store database
    (with its ``-wal``, which holds most of its rows) until :meth:`record`."""

    found: dict[str, Found] = field(default_factory=dict)
    store_dbs: list[EvidenceItem] = field(default_factory=list)
    store_aux: dict[str, Opener] = field(default_factory=dict)
    store_items: list[EvidenceItem] = field(default_factory=list)
    #: (locator, reason) of App Store databases that could not be read: listed, never dropped.
    store_errors: list[tuple[str, str]] = field(default_factory=list)

    def see(self, item: EvidenceItem, *, claimed: bool, base: str | None = None) -> bool:
        """Note ``item``; ``claimed``: a parser took it; ``base``: its lower-cased base name, when the
        caller has it. True when its bytes must be kept."""
        loc = item.locator
        if base is None:
            base = last_name(loc).rsplit("/", 1)[-1].lower()
        if not claimed and (named := recognise(loc, base)) is not None:
            self.found.setdefault(named[0], Found()).add(loc)
        if (ids := identify(loc)) is not None:
            self.found.setdefault(ids[0], Found(kind="data")).add(ids[2])
        if base == CONTAINER_PLIST and item.opener is not None:
            self._container(item)
            return False
        if base.startswith(STORE_SYSTEM) and item.opener is not None:
            if base == STORE_SYSTEM:
                self.store_dbs.append(item)
            elif base in (STORE_SYSTEM + "-wal", STORE_SYSTEM + "-shm"):
                self.store_aux[loc] = item.opener
            else:
                return False
            self.store_items.append(item)
            return True
        return False

    def _container(self, item: EvidenceItem) -> None:
        """An iOS container's metadata names the bundle or app group whose container it is: the
        one way to know the app of a container whose paths name only its UUID."""
        assert item.opener is not None
        try:
            meta = plistlib.loads(read_head(item.opener, 64 * 1024))
        except (OSError, ValueError, plistlib.InvalidFileException):
            return  # a recognition aid only: the file itself is stored and listed as any other
        ident = meta.get("MCMMetadataIdentifier") if isinstance(meta, dict) else None
        if isinstance(ident, str) and (hit := identify("/" + ident)) is not None:
            self.found.setdefault(hit[0], Found(kind="data")).add(item.locator.rsplit("/", 1)[0])

    def read_installed(self, scratch: Any) -> None:
        """Read every kept ``storeSystem.db`` (a scratch copy, WAL applied); its spool copies go."""
        from tessera.evidence import discard_spool
        from tessera.messaging.whatsapp_db_common import open_evidence_db

        for item in self.store_dbs:
            assert item.opener is not None
            parent = item.locator.rsplit("/", 1)[0]

            def sibling(name: str, parent: str = parent) -> Opener | None:
                return self.store_aux.get(posixpath.normpath(f"{parent}/{name}"))

            try:
                with open_evidence_db(item.opener, STORE_SYSTEM, sibling, scratch) as conn:
                    bundles = installed_bundles(conn)
            except Exception as exc:  # noqa: BLE001 - a bad App Store database is named, not fatal
                self.store_errors.append(
                    (item.locator, f"App Store database not read: {type(exc).__name__}: {exc}")
                )
                continue
            for bundle in bundles:
                hit = identify(f"/{bundle}")
                if hit is not None:
                    self.found.setdefault(hit[0], Found(kind="installed")).add(
                        f"{item.locator}#app_updates/{bundle}"
                    )
        for it in self.store_items:
            discard_spool(it)

    def record(self, session: Session, device_id: str) -> list[tuple[str, str, str]]:
        """Store one row per app entry found and not yet standing on the device; (locator, entry,
        reason) of each row stored by this call."""
        rows = session.execute(
            select(m.MessagingSource.parser, m.MessagingSource.locator).where(
                m.MessagingSource.device_id == device_id
            )
        ).all()
        have_entries = {parser for parser, _ in rows}
        have_locators = {loc for _, loc in rows}
        titles: set[str] = set()
        for parser, loc in rows:
            stands = app_of_source(parser, loc)
            if stands is not None:
                titles.add(stands[1].title)
        out: list[tuple[str, str, str]] = []
        for locator, reason in self.store_errors:
            if locator not in have_locators:
                session.add(
                    m.MessagingSource(
                        device_id=device_id,
                        locator=locator,
                        parser=STORE_PARSER,
                        status=NOT_PARSED,
                        error=reason,
                    )
                )
                have_locators.add(locator)
                out.append((locator, STORE_PARSER, reason))
        # Files first (they name what is there), then folders and ids, then installed-only.
        order = sorted(self.found.items(), key=lambda kv: {"file": 0, "data": 1, "installed": 2}[kv[1].kind])
        for entry, found in order:
            app = APPS.get(entry)
            if entry in have_entries or not found.locators:
                continue
            if found.kind != "file" and app.title in titles:
                continue
            locator = found.locators[0]
            if locator in have_locators:
                continue
            reason = _reason(app.title, app.reason(), found)
            cov = Coverage()
            for other in found.locators[1:MAX_NOTED]:
                cov.note(f"also: {other}")
            if len(found.locators) > MAX_NOTED:
                cov.note(f"and {len(found.locators) - MAX_NOTED:,} more paths of this app")
            session.add(
                m.MessagingSource(
                    device_id=device_id,
                    locator=locator,
                    parser=entry,
                    status=NOT_PARSED,
                    error=reason,
                    coverage=cov.to_json() if cov.notes else None,
                )
            )
            titles.add(app.title)
            have_locators.add(locator)
            out.append((locator, entry, reason))
        return out


def _reason(title: str, default: str, found: Found) -> str:
    n = len(found.locators)
    if found.kind == "installed":
        return (
            f"{title}: installed (App Store record in storeSystem.db), no app data in the extraction:"
            " present, not parsed"
        )
    if found.kind == "data":
        what = "1 path" if n == 1 else f"{n:,} paths"
        return default.replace(" app data: ", f" app data ({what}): ", 1)
    return default if n == 1 else f"{default}; {n:,} such files"


def installed_bundles(conn: sqlite3.Connection) -> list[str]:
    """Bundle ids the App Store database records (``app_updates``, ``app_install``), sorted."""
    out: set[str] = set()
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in ("app_updates", "app_install"):
        if table in have:
            out.update(r[0] for r in conn.execute(f"SELECT bundle_id FROM {table}") if r[0])  # noqa: S608
    return sorted(out)


def duplicate_sources(session: Session, device_id: str, sources: Sequence[tuple[str, str]]) -> dict[str, str]:
    """{locator: the locator it repeats} for sources that are one file written twice by the
    extraction: the same parser, the same device path once links are undone (``/data/user/0`` is
    ``/data/data``; the Magisk mirror is ``/data``) and the same content (sha256 of the stored file).
    Parsed twice, every message would be counted twice."""
    keyed: dict[tuple[str, str], list[str]] = {}
    for locator, parser in sources:
        path = device_path(locator)
        if path is not None:
            keyed.setdefault((parser, canonical(path)), []).append(locator)
    groups = [locs for locs in keyed.values() if len(locs) > 1]
    if not groups:
        return {}
    wanted = [loc for locs in groups for loc in locs]
    sha = dict(
        session.execute(
            select(m.File.locator, m.File.sha256).where(
                m.File.device_id == device_id, m.File.locator.in_(wanted)
            )
        ).all()
    )
    out: dict[str, str] = {}
    for locs in groups:
        first: dict[str, str] = {}
        for loc in locs:
            digest = sha.get(loc)
            if not digest:
                continue
            if digest in first:
                out[loc] = first[digest]
            else:
                first[digest] = loc
    return out


def inventory(session: Session, device: str | None = None) -> list[dict[str, Any]]:
    """One row per device and app: its status (the best of its sources: complete, partial, failed,
    not parsed), the messages parsed, its sources and the reason it is not (fully) parsed."""
    q = select(
        m.MessagingSource.device_id,
        m.MessagingSource.parser,
        m.MessagingSource.locator,
        m.MessagingSource.status,
        m.MessagingSource.messages,
        m.MessagingSource.error,
    ).order_by(m.MessagingSource.device_id, m.MessagingSource.locator)
    if device:
        q = q.where(m.MessagingSource.device_id == device)
    apps: dict[tuple[str, str], dict[str, Any]] = {}
    for dev, parser, loc, status, messages, error in session.execute(q):
        app = app_of_source(parser, loc)
        if app is None:
            continue  # a chat export, not an app's data on the device
        row = apps.setdefault(
            (dev, app[1].title),
            {
                "device": dev,
                "app": app[1].title,
                "status": status,
                "messages": 0,
                "sources": 0,
                "locator": loc,
                "device_path": device_path(loc),
                "reason": None,
            },
        )
        row["sources"] += 1
        row["messages"] += messages or 0
        if _RANK.get(status, 9) < _RANK.get(row["status"], 9):
            row.update(status=status, locator=loc, device_path=device_path(loc))
        if status != COMPLETE and error and not row["reason"]:
            row["reason"] = error
    out = sorted(apps.values(), key=lambda r: (r["device"], r["app"]))
    for r in out:
        if r["status"] == COMPLETE:
            r["status"] = "parsed"
    return out
