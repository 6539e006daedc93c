"""iTunes/Finder backups as an evidence source: every file under the path it had on the phone.

A backup folder stores each file under a hashed name (``3a/3a5b…``) and says in ``Manifest.db``
which ``(domain, relativePath)`` it is. Locators are chosen so the device path shows and the backup's
own files stay accounted for:

* the backup's own files (``/Manifest.db``, ``/Manifest.plist``, ``/Info.plist``, ``/Status.plist``)
  and any file on disk that the manifest does not list keep their path in the folder;
* each file the manifest lists is a member of ``/Manifest.db`` named by its device path
  (:mod:`tessera.evidence.backup_domains`):
  ``/Manifest.db!/private/var/mobile/Containers/Shared/AppGroup/group.net.whatsapp.WhatsApp.shared/ChatStorage.sqlite``.
  Its raw path keeps the backup's own name for it, ``/Manifest.db!/<domain>/<relativePath>``, from
  which the hashed name is recovered (:func:`~tessera.evidence.backup_manifest.file_id`, or a look-up
  in ``Manifest.db``). Two entries with one device path (domains sharing a folder) are numbered
  (``#2``) as in any container.

Sibling files keep sibling locators (``ChatStorage.sqlite-wal`` beside ``ChatStorage.sqlite``), which
is what messaging parsers and media linking rely on. A file the manifest lists but the folder lacks is
an item with the error. ``Manifest.db`` is read from a copy in the scratch space (decrypted there for
an encrypted backup), never in place.

When the index cannot be opened (an encrypted backup with no password or a wrong one, an unusable
keybag, a truncated or corrupt ``Manifest.db``, an unreadable ``Manifest.plist``) the backup is not
refused: it is walked as a pre-iOS-10 backup is, every file of the folder under its own (hashed)
name, nothing decrypted and nothing under a device path, and the index file that could not be read
(``/Manifest.db``, or ``/Manifest.plist``) carries the named error. The ingest then ends "done, with
errors" (exit 1) with the error listed in the case, rather than storing nothing; the device facts of
``Info.plist``/``Manifest.plist``/``Status.plist`` (never encrypted) are still reported. The password
never appears in an error.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from tessera.evidence import backup_crypto as bc
from tessera.evidence.backup_domains import candidates, device_path
from tessera.evidence.backup_manifest import (
    FLAG_DIR,
    FLAG_LINK,
    MANIFEST_DB,
    MANIFEST_MBDB,
    PLISTS,
    MBFile,
    parse_mbfile,
    read_plist,
    report_facts,
)
from tessera.evidence.base import (
    SOURCES,
    EvidenceError,
    LimitHit,
    Limits,
    MemberNames,
    MemberSink,
    open_readonly,
    parse_locator,
    path_locator,
    split_raw_path,
)
from tessera.evidence.directory import DirectorySource
from tessera.records import LOCATOR_SEP, EvidenceItem, Opener

_HEX_DIR = re.compile(r"\A[0-9a-f]{2}\Z")
#: A data file's name in the folder: anything else (a hostile ``../x``) is never turned into a path.
_FILE_ID = re.compile(r"\A[0-9a-f]{40}\Z")
_SELECT = "SELECT fileID, domain, relativePath, flags, file FROM Files"
#: Walk order, and the order occurrence numbers (``#2``) follow.
_ORDER = " ORDER BY domain, relativePath, fileID"
PARENT = EvidenceItem("/" + MANIFEST_DB, b"/" + MANIFEST_DB.encode(), None, None)


class Unopened(EvidenceError):
    """The backup's index cannot be opened: why, and which of the backup's own files says so."""

    def __init__(self, root: Path, reason: str, *, on: str = "/" + MANIFEST_DB, encrypted: bool = False):
        super().__init__(f"{_kind(encrypted)} {root}: {reason}")
        self.reason, self.on, self.encrypted = reason, on, encrypted


def _kind(encrypted: bool) -> str:
    return "encrypted iTunes/Finder backup" if encrypted else "iTunes/Finder backup"


class _Index:
    """``Manifest.db`` copied (or decrypted) into the scratch space, with the keys to read files."""

    def __init__(self, root: Path, limits: Limits, *, check: bool = True) -> None:
        self.root = root
        # The data folders that are folders (not links: nothing is followed inside the evidence).
        self.data_dirs = {
            e.name for e in os.scandir(root) if _HEX_DIR.match(e.name) and e.is_dir(follow_symlinks=False)
        }
        try:
            self.manifest: dict[str, Any] | None = read_plist(root / "Manifest.plist")
        except FileNotFoundError:
            self.manifest = None
        except (OSError, ValueError) as exc:
            reason = f"Manifest.plist unreadable ({exc}); whether it is encrypted is unknown"
            raise Unopened(root, reason, on="/Manifest.plist") from None
        self.encrypted = bool(self.manifest and self.manifest.get("IsEncrypted"))
        self.class_keys: dict[int, bytes] = {}
        if self.encrypted:
            self.class_keys = _unlock(root, self.manifest or {}, limits.volume_keys)
        scratch = limits.scratch_dir or Path(tempfile.gettempdir())
        self.tmp = tempfile.mkdtemp(prefix="tessera-backup-", dir=scratch)
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.tmp, True)
        db = os.path.join(self.tmp, MANIFEST_DB)
        try:
            self._copy_manifest(db)
            self.conn = sqlite3.connect(db, check_same_thread=False)  # our scratch copy, not the evidence
            # The whole index is checked once, by the walk (a truncated copy must refuse the backup
            # before anything is stored); reopening one file later skips it.
            found = self.conn.execute("PRAGMA quick_check").fetchone() if check else ("ok",)
            if not found or found[0] != "ok":
                raise sqlite3.DatabaseError(str(found[0] if found else "no answer"))
            self.conn.execute(_SELECT + " LIMIT 1").fetchall()
        except bc.KeybagError as exc:  # the ManifestKey is missing or does not unwrap
            self.close()
            raise Unopened(root, f"keybag unusable ({exc})", encrypted=True) from None
        except (OSError, sqlite3.Error, bc.TruncatedCiphertext) as exc:
            self.close()
            raise Unopened(
                root,
                f"Manifest.db unreadable ({type(exc).__name__}: {exc}); the backup is truncated or corrupt",
                encrypted=self.encrypted,
            ) from None

    def _copy_manifest(self, db: str) -> None:
        src = self.root / MANIFEST_DB
        if not self.encrypted:
            # SQLite must never open a file of the evidence: it and its -wal/-shm are copied first.
            for suffix in ("", "-wal", "-shm"):
                if suffix and not (self.root / (MANIFEST_DB + suffix)).is_file():
                    continue
                with open_readonly(str(src) + suffix) as fh, open(db + suffix, "wb") as out:
                    shutil.copyfileobj(fh, out, 1024 * 1024)
            return
        wrapped = (self.manifest or {}).get("ManifestKey")
        if not isinstance(wrapped, bytes):
            raise bc.KeybagError("Manifest.plist has no ManifestKey")
        key = bc.unwrap_file_key(self.class_keys, wrapped)
        with open_readonly(src) as fh, open(db, "wb") as out:
            bc.decrypt_stream(fh, key, out.write)

    def rows(self, where: str = "", args: tuple[object, ...] = ()) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(_SELECT + where + _ORDER, args)

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
        self._cleanup()


def _unlock(root: Path, manifest: dict[str, Any], passwords: tuple[str, ...]) -> dict[int, bytes]:
    # The reasons never name the password: the error is stored in the case and printed.
    if not passwords:
        raise Unopened(root, "no password given (--password)", encrypted=True)
    blob = manifest.get("BackupKeyBag")
    if not isinstance(blob, bytes):
        raise Unopened(root, "keybag unusable (Manifest.plist has no BackupKeyBag)", encrypted=True)
    try:
        return bc.unlock(blob, passwords)
    except bc.WrongPassword:
        raise Unopened(
            root, "wrong password (the --password given does not unwrap its keys)", encrypted=True
        ) from None
    except bc.KeybagError as exc:
        raise Unopened(root, f"keybag unusable ({exc})", encrypted=True) from None


def _fallback_error(exc: Unopened, files: int) -> str:
    """The error the unread index file carries: why, what was kept instead, what to do."""
    kept = f"the backup's data files ({files:,}) are kept under their hashed names"
    if exc.encrypted:
        kept += ", not decrypted"
    if exc.reason.startswith(("no password", "wrong password")):
        todo = "ingest again with the right --password under a new device id"
    elif exc.on != "/" + MANIFEST_DB:
        todo = "Manifest.db is not read and nothing is stored under device paths"
    else:
        todo = "nothing is stored under device paths (the index that names them is unreadable)"
    return f"{_kind(exc.encrypted)}: {exc.reason}: {kept}; {todo}"


def _data_files(root: str) -> int:
    """How many files the ``xx/`` data folders hold (from the listing: no stat per file)."""
    count = 0
    for e in os.scandir(root):
        if _HEX_DIR.match(e.name) and e.is_dir(follow_symlinks=False):
            with contextlib.suppress(OSError):  # the walk reports a folder it cannot list
                count += sum(1 for f in os.scandir(e.path) if not f.is_dir(follow_symlinks=False))
    return count


def _is_backup(path: Path) -> bool:
    has_index = (path / MANIFEST_DB).is_file() or (path / MANIFEST_MBDB).is_file()
    return has_index and any((path / name).is_file() for name in PLISTS)


@SOURCES.register("itunes-backup")
class ITunesBackupSource:
    name: ClassVar[str] = "itunes-backup"
    #: Before the catch-all directory source (100): a backup folder is also a folder.
    priority: ClassVar[int] = 20

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = Path(os.path.abspath(root))
        self.root_text = str(self.root)
        self.limits = limits
        # Opened here, once, with the whole index checked. When it cannot be opened the backup is
        # walked as a plain folder and the unread index file carries the error (see the module).
        self.index: _Index | None = None
        self.unopened: tuple[str, str] | None = None  # (locator of the unread file, its error)
        if (self.root / MANIFEST_DB).is_file():
            try:
                self.index = _Index(self.root, limits)
            except Unopened as exc:
                self.unopened = (exc.on, _fallback_error(exc, _data_files(self.root_text)))

    @classmethod
    def accepts(cls, path: Path) -> bool:
        try:
            return stat.S_ISDIR(os.stat(path).st_mode) and _is_backup(path)
        except OSError:
            return False

    def walk(self) -> Iterator[EvidenceItem]:
        index = self.index
        try:
            report_facts(self.root, self.limits, index.manifest if index else _manifest_or_none(self.root))
            # the data files entries stand for (a folder row has none: a file under its id is extra)
            query = f"SELECT fileID FROM Files WHERE flags IS NOT {FLAG_DIR}"
            ids = {row[0] for row in index.conn.execute(query)} if index else set()
            yield from self._own_files(ids)
            if index is not None:
                names = MemberNames()
                for row in index.rows():
                    item = self._entry(index, names, *row)
                    if item is not None:
                        yield item
        finally:
            if index is not None:
                index.close()

    def _own_files(self, ids: set[str]) -> Iterator[EvidenceItem]:
        """The folder's files that are not data of a listed entry, under their own paths.

        The ``xx/`` data folders are listed here without a stat per file (a backup holds tens of
        thousands; their entries are stat'ed once, by :func:`_data`); the rest of the folder is
        walked by the directory source, as any folder."""
        folder = DirectorySource(self.root, replace(self.limits, media_first=False))
        hexdirs = sorted(
            e.name
            for e in os.scandir(self.root)
            if _HEX_DIR.match(e.name) and e.is_dir(follow_symlinks=False)
        )
        unread: dict[bytes, str] = {}
        if self.index is None:
            unread[b"/" + MANIFEST_MBDB.encode()] = (
                "pre-iOS 10 backup index (Manifest.mbdb): not read; "
                "the backup's files are kept under their hashed names"
            )
        if self.unopened is not None:
            unread[self.unopened[0].encode()] = self.unopened[1]
        for item in folder._walk_from(b"", frozenset(b"/" + d.encode() for d in hexdirs)):
            problem = unread.pop(item.raw_path, None)
            if problem is not None:
                # the file is still stored and hashed as found; its own error (if any) kept first
                item = replace(item, error="; ".join(e for e in (item.error, problem) if e))
            yield item
        if self.unopened is not None and self.unopened[0].encode() in unread:
            # the unread index is not a file of the walk (a folder in its place): the error still shows
            loc = self.unopened[0]
            yield EvidenceItem(loc, loc.encode(), None, None, error=self.unopened[1])
        for d in hexdirs:
            try:
                names = sorted(e.name for e in os.scandir(os.path.join(self.root_text, d)))
            except OSError:
                names = []  # the directory source reports what it cannot list
                yield from folder._walk_from(b"/" + d.encode(), frozenset())
            for name in names:
                if name in ids and name.startswith(d):
                    continue  # yielded under its device path
                rel = os.fsencode(f"/{d}/{name}")
                full = self.root_text.encode() + rel
                try:
                    st = os.lstat(full)
                except OSError as exc:
                    yield EvidenceItem(
                        path_locator(rel), rel, None, None, error=f"cannot stat: {exc.strerror}"
                    )
                    continue
                if stat.S_ISDIR(st.st_mode):
                    yield from folder._walk_from(rel, frozenset())
                else:
                    yield folder._item(full, rel, st)

    def _entry(
        self,
        index: _Index,
        names: MemberNames,
        fid: str,
        domain: str,
        rel: str,
        flags: int,
        blob: bytes | None,
    ) -> EvidenceItem | None:
        if flags == FLAG_DIR:
            return None  # folders are not items (as in every source)
        fid, domain, rel = str(fid or ""), str(domain or ""), str(rel or "")
        locator, raw = names.locate(PARENT, f"{domain}/{rel}".encode(), device_path(domain, rel))
        errors: list[str] = []
        try:
            meta = parse_mbfile(blob)
        except ValueError as exc:
            meta = MBFile()
            errors.append(f"fileID {fid}: {exc}")
        size: int | None = None
        opener: Opener | None = None
        link = flags == FLAG_LINK or (meta.mode is not None and stat.S_ISLNK(meta.mode))
        if not link:
            size, opener, problem = _data(self.root_text, index, fid, meta, self.limits)
            if problem:
                errors.append(problem)
        # One EvidenceItem per entry, built once: this runs for every file of the backup.
        return EvidenceItem(
            locator,
            raw,
            size,
            opener,
            mtime=meta.mtime,
            ctime=meta.ctime,
            crtime=meta.crtime,
            is_symlink=link,
            link_target=meta.target if link else None,
            link_kind="symlink" if link else None,
            error="; ".join(errors) or None,
            depth=1,
        )

    @classmethod
    def reopen(cls, root: Path, locator: str, raw_path: bytes | None, limits: Limits) -> EvidenceItem | None:
        """The entry at the start of ``locator`` (``/Manifest.db!/<device path>``) with its bytes,
        or None when the locator is not one of a manifest entry (a plain file of the folder)."""
        layers = parse_locator(locator)
        if len(layers) < 2 or layers[0].name != PARENT.locator:
            return None
        want = LOCATOR_SEP.join(locator.split(LOCATOR_SEP)[:2])
        index = _Index(Path(os.path.abspath(root)), limits, check=False)
        try:
            if raw_path is not None:
                inner = split_raw_path(raw_path, locator)[1]  # "/<domain>/<relativePath>"
                domain, _, rel = inner[1:].decode("utf-8", "surrogateescape").partition("/")
                pairs = [(domain, rel)]
            else:
                pairs = candidates(layers[1].name)
            rows = sorted(
                (
                    row
                    for d, r in pairs
                    for row in index.rows(" WHERE domain = ? AND relativePath = ?", (d, r))
                ),
                key=lambda row: (row[1], row[2], row[0]),
            )
            source = ITunesBackupSource.__new__(cls)
            source.root, source.limits, source.index = index.root, limits, index
            source.root_text = str(index.root)
            names = MemberNames()
            for row in rows:
                item = source._entry(index, names, *row)
                # with the raw path there is one row: its occurrence number is the stored one
                if item is not None and (item.locator == want or raw_path is not None):
                    return replace(item, locator=want)
        finally:
            index.close()
        from tessera.evidence.resolve import ResolveError  # here: resolve imports the sources' registry

        raise ResolveError(f"{locator}: no such entry in the Manifest.db of {root}")


def _manifest_or_none(root: Path) -> dict[str, Any] | None:
    try:
        return read_plist(root / "Manifest.plist")
    except (OSError, ValueError):
        return None


def _data(
    root: str, index: _Index, fid: str, meta: MBFile, limits: Limits
) -> tuple[int | None, Opener | None, str | None]:
    """Size, opener and problem of an entry's content (decrypted into memory or the scratch space
    when the backup is encrypted)."""
    if not _FILE_ID.match(fid):
        return None, None, f"fileID {fid!r} is not a backup data name (40 hex digits): not read"
    name = f"{fid[:2]}/{fid}"
    data = f"{root}/{name}"
    try:
        if fid[:2] not in index.data_dirs:  # absent, or a link: never followed
            raise FileNotFoundError(name)
        st = os.lstat(data)
    except OSError:
        if meta.size == 0:
            return 0, Opener(data=b""), None  # empty files may have no data file
        return None, None, f"listed in Manifest.db (fileID {fid}) but missing from the backup folder"
    if not stat.S_ISREG(st.st_mode):
        return None, None, f"data file {name} is not a regular file"
    if not index.encrypted:
        short = meta.size is not None and st.st_size < meta.size
        # a cut file is still hashed as found, and says so
        return (
            st.st_size,
            Opener(path=data),
            f"data file {name} truncated: {st.st_size} of {meta.size} bytes" if short else None,
        )
    if meta.key is None:
        if st.st_size == 0:
            return 0, Opener(data=b""), None
        return None, None, f"fileID {fid}: encrypted backup but the file record has no key"
    sink = MemberSink(limits, limits.max_member_bytes * 64, f"fileID {fid}: larger than the member budget")
    try:
        key = bc.unwrap_file_key(index.class_keys, meta.key)
        with open_readonly(data) as fh:
            bc.decrypt_stream(fh, key, sink.write, meta.size)
    except bc.TruncatedCiphertext as exc:
        sink.discard()
        return None, None, f"data file {name} truncated: {exc}"
    except (bc.KeybagError, OSError, LimitHit) as exc:
        sink.discard()
        return None, None, f"cannot decrypt fileID {fid}: {exc}"
    size = sink.size
    short = meta.size is not None and size < meta.size
    return size, sink.opener(), f"data file {name} truncated: {size} of {meta.size} bytes" if short else None
