"""Cellebrite UFDR: a zip whose root holds ``report.xml``, its files shown under their device paths.

Detection is by structure, never by the file's name: this format sniffs every zip (priority 5, before
the plain zip format) and looks at the central directory in :meth:`UfdrFormat.members`; a zip without
a root ``report.xml`` is listed exactly as :mod:`tessera.evidence.zip` lists it.

Locators. A member that ``report.xml`` tags (``taggedFiles/file`` with a ``Local Path``) is yielded
under the device path the report states (``/phone.ufdr!/private/var/mobile/Media/DCIM/IMG_1.JPG``);
its ``raw_path`` layer keeps the zip member's own name bytes (``files/Image/IMG_1.JPG``), so the file's
place in the UFDR stays recoverable (provenance), and the resolver, which asks this same plugin for the
members again, reopens it. Times are the device's (from the report), not the zip's (the export's).
Members the report does not tag (``report.xml`` itself, summaries, thumbnails) keep their own names:
nothing in the zip is lost. A tagged file the zip lacks, or one listed without a local path, is an
item under its device path with the error saying so. A member whose bytes do not hash to the SHA-256
(else MD5) the report states carries that error too.

Facts: ``report.xml``'s extraction metadata (model, IMEI, serial, OS version, extraction time, tool,
version, type) are reported with :func:`~tessera.evidence.base.report_fact` against the report.
A ``report.xml`` that is not well-formed is a note on the UFDR (line and column named) and the zip is
listed under its members' own names.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from tessera.evidence.base import (
    CONTAINERS,
    LimitHit,
    Limits,
    MemberNames,
    MemberSink,
    bomb_error,
    container_note,
    member_cap,
    members_error,
    open_item,
    report_fact,
)
from tessera.evidence.ufdr_report import REPORT_NAME, ReportError, TaggedFile, read_header
from tessera.evidence.zip import (
    _FLAG_ENCRYPTED,
    _FLAG_UTF8,
    ZipFormat,
    _listed,
    _names,
    _raw_name,
    _sparse,
    _times,
)
from tessera.records import LOCATOR_SEP, EvidenceItem, Opener


def report_member(zf: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    """The zip's root ``report.xml`` (what makes a zip a UFDR), or None."""
    for info in zf.infolist():
        if info.filename.lower() == REPORT_NAME and not info.is_dir():
            return info
    return None


class UfdrFormat:
    name: ClassVar[str] = "ufdr"
    #: Before zip (10): a UFDR is a zip, told apart by its central directory in ``members``.
    priority: ClassVar[int] = 5

    def sniff(self, head: bytes, name: str) -> bool:
        return head[:4] == b"PK\x03\x04"

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        yield from self._members(opener, parent, limits, None)

    def find(
        self, opener: Opener, parent: EvidenceItem, limits: Limits, locator: str
    ) -> Iterator[EvidenceItem]:
        """The member at ``locator`` (or holding it), for the resolver: the same locators as
        :meth:`members`, but only the wanted member's bytes are read, not the whole UFDR's."""
        yield from self._members(opener, parent, limits, locator)

    def _members(
        self, opener: Opener, parent: EvidenceItem, limits: Limits, want: str | None
    ) -> Iterator[EvidenceItem]:
        with open_item(opener) as fh:
            try:
                zf = zipfile.ZipFile(fh)
            except Exception:  # noqa: BLE001 - a damaged zip: the zip format recovers what it can
                zf = None
            if zf is None:
                yield from ZipFormat().members(opener, parent, limits)
                return
            with zf:
                report = report_member(zf)
                if report is None or report.flag_bits & _FLAG_ENCRYPTED:
                    yield from _listed(zf, parent, limits)
                    return
                yield from _ufdr(zf, report, parent, limits, want)


@dataclass
class _Budget:
    used: int = 0
    count: int = 0


def _ufdr(
    zf: zipfile.ZipFile, report: zipfile.ZipInfo, parent: EvidenceItem, limits: Limits, want: str | None
) -> Iterator[EvidenceItem]:
    try:
        with zf.open(report) as xml:
            header = read_header(xml)  # type: ignore[arg-type]
    except ReportError as exc:
        yield container_note(parent, f"UFDR {REPORT_NAME}: {exc}; members listed under their zip names")
        yield from _listed(zf, parent, limits)
        return
    except Exception as exc:  # noqa: BLE001 - a member that cannot even be inflated
        yield container_note(
            parent, f"UFDR {REPORT_NAME} unreadable: {exc}; members listed under their zip names"
        )
        yield from _listed(zf, parent, limits)
        return
    report_loc = parent.locator + LOCATOR_SEP + "/" + report.filename
    for name, value in header.facts:
        report_fact(limits, report_loc, name, value)
    by_local: dict[str, list[TaggedFile]] = {}
    unplaced: list[TaggedFile] = []
    for tf in header.files:
        if tf.local:
            by_local.setdefault(tf.local, []).append(tf)
        else:
            unplaced.append(tf)
    names = MemberNames()
    budget = _Budget()
    depth = parent.depth + 1
    for info in zf.infolist():
        if info.is_dir():
            continue
        raw = _raw_name(info)
        text = _names(raw, bool(info.flag_bits & _FLAG_UTF8))
        tagged = by_local.pop(text.replace("\\", "/").lstrip("/"), None)
        budget.count += 1
        if budget.count > limits.max_members:
            loc, raw_path = names.locate(parent, raw, text)
            yield EvidenceItem(loc, raw_path, info.file_size, None, error=members_error(limits), depth=depth)
            return
        places: list[tuple[str, bytes, TaggedFile | None]]
        if not tagged:
            places = [(*names.locate(parent, raw, text), None)]
        else:
            places = [(*_device_locator(names, parent, raw, text, t.path), t) for t in tagged]
        if want is not None and not any(
            want == loc or want.startswith(loc + LOCATOR_SEP) for loc, _, _ in places
        ):
            continue  # the resolver wants another member: this one's bytes are not read
        opener, size, error = _read(zf, info, limits, budget)
        for loc, raw_path, place in places:
            if place is None:
                t = _times(info.date_time, info.extra)
                yield t.item(loc, raw_path, depth, size, opener, error)
                continue
            yield EvidenceItem(
                loc,
                raw_path,
                size,
                opener,
                mtime=place.mtime,
                atime=place.atime,
                crtime=place.crtime,
                deleted=place.deleted,
                error=_join(error, _hash_error(opener, place)),
                depth=depth,
            )
    for tf in [t for group in by_local.values() for t in group] + unplaced:
        loc, raw_path = names.locate(parent, tf.path.encode("utf-8", "surrogateescape"), tf.path)
        why = (
            f"listed in {REPORT_NAME} as {tf.local} but absent from the UFDR"
            if tf.local
            else f"listed in {REPORT_NAME} without a local path: its content is not in the UFDR"
        )
        yield EvidenceItem(
            loc,
            raw_path,
            tf.size,
            None,
            mtime=tf.mtime,
            crtime=tf.crtime,
            deleted=tf.deleted,
            error=why,
            depth=depth,
        )


def _device_locator(
    names: MemberNames, parent: EvidenceItem, raw: bytes, text: str, device_path: str
) -> tuple[str, bytes]:
    """Locator showing the device path, raw path keeping the zip member's name bytes. The layers of
    a raw path are cut by the number of ``!`` each display layer holds (``split_raw_path``), so when
    the two names hold a different number the raw layer is the device path's bytes instead."""
    if device_path.count(LOCATOR_SEP) == text.count(LOCATOR_SEP):
        return names.locate(parent, raw, device_path)
    return names.locate(parent, device_path.encode("utf-8", "surrogateescape"), device_path)


def _read(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: _Budget
) -> tuple[Opener | None, int | None, str | None]:
    """One member's bytes within the limits (as the zip format reads them): (opener, size, error)."""
    if info.flag_bits & _FLAG_ENCRYPTED:
        return None, info.file_size, "encrypted member"
    cap, cap_error = member_cap(limits, info.compress_size, budget.used)
    if info.file_size > cap and cap_error == bomb_error(limits) and _sparse(zf, info, info.filename):
        cap, cap_error = member_cap(limits, None, budget.used)
    if info.file_size > cap:
        return None, info.file_size, cap_error
    budget.used += info.file_size
    sink = MemberSink(limits, max_bytes=info.file_size, too_big=cap_error)
    try:
        with zf.open(info) as member:
            sink.copy_from(member)  # type: ignore[arg-type]
    except LimitHit as exc:
        return None, info.file_size, str(exc)
    except Exception as exc:  # noqa: BLE001 - hostile input can raise almost anything
        sink.discard()
        return None, info.file_size, f"corrupt member: {exc}"
    return sink.opener(), sink.size, None


def _hash_error(opener: Opener | None, tf: TaggedFile) -> str | None:
    """The report's own hash of the file checked against the member's bytes (SHA-256, else MD5)."""
    if opener is None or not (tf.sha256 or tf.md5):
        return None
    algo, stated = ("sha256", tf.sha256) if tf.sha256 else ("md5", tf.md5)
    h = hashlib.new(algo)
    with open_item(opener) as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    if h.hexdigest() == stated:
        return None
    return f"content does not match the {algo.upper()} {REPORT_NAME} states ({stated})"


def _join(a: str | None, b: str | None) -> str | None:
    return "; ".join(x for x in (a, b) if x) or None


CONTAINERS.register("ufdr")(UfdrFormat())
