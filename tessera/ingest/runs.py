"""A device's runs and sources: which source a run belongs to, how runs end, what the device holds.

A device is first ingested from one source (its *primary* source, whose locators are the paths inside
it). The same source given again resumes it. A *different* source under an existing device id is
refused unless the examiner says it is more of the same device (``--add-source``, e.g. a phone's SD
card): an added source's files are stored under ``/<name of the source>`` so its locators can never
coincide with the primary's, and it is only accepted when nothing the device already holds sits under
that name (checked against a device whose earlier sources are completely ingested, so the check is
exact). Source paths are stored absolute with symbolic links resolved: the place the evidence was
read from, so a link later pointed at other evidence names a different source, never a resume. An added
source's files go under the name of its stored folder, whichever path names it on a rerun.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from tessera.evidence import EvidenceError
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_device import DeviceFact
from tessera.store.models_video import ImageVerification as VerificationRow

#: ``ingest_run.status`` values. ``running`` is only ever true of a live run: the next run of the same
#: device turns a ``running`` row left by a killed process into ``interrupted``.
#: ``stopped``: ended on purpose before the end (``--first-hit``); ``interrupted``: killed, crashed or
#: Ctrl-C. Either is resumed by running the same ingest again.
RUNNING, COMPLETE, STOPPED, INTERRUPTED = "running", "complete", "stopped", "interrupted"


class SourceConflict(EvidenceError):
    """A source that cannot be ingested under the device id given (one line, exit code 2)."""


@dataclass(frozen=True, slots=True)
class SourceClaim:
    path: str  # absolute, as stored
    #: Put before every locator of this source: "" for the primary source, ``/<name>`` for an added one.
    prefix: str
    primary: bool


def absolute(source: Path | str) -> str:
    """The source path as stored: absolute, links resolved (where the bytes were read from)."""
    return os.path.realpath(os.fspath(source))


def _same(stored: str, source: Path) -> bool:
    # Cases made before paths were stored absolute hold them relative to the examiner's working
    # directory then; the same text, or the same place from here, is the same source.
    if os.path.normpath(stored) in (os.path.normpath(os.fspath(source)), absolute(source)):
        return True
    if not os.path.isabs(stored):
        return False
    try:
        return os.path.samefile(stored, source)
    except OSError:
        return False


def _prefix(stored: str, source: Path) -> str:
    """Where an added source's files go: a folder is ``/<name of its stored path>/...`` (the stored
    path, not the one given now, so another name for the same folder finds its files where they are);
    a file (an image, an archive) is already ``/<its name>`` with its members after ``!``."""
    try:
        is_dir = stat.S_ISDIR(os.stat(source).st_mode)
    except OSError:
        is_dir = False
    return _name(stored) if is_dir else ""


def _name(stored: str) -> str:
    return "/" + os.path.basename(os.path.normpath(stored))


def claim_source(s: Session, device_id: str, source: Path, *, add_source: bool) -> SourceClaim | None:
    """The claim of ``source`` on the device, or None when the device does not exist yet (the caller
    creates it with this source as its primary). Raises :class:`SourceConflict` for a different source
    given without ``add_source``, or an added source whose locators could collide."""
    dev = s.get(m.Device, device_id)
    if dev is None:
        return None
    path = absolute(source)
    if dev.source_path is None or _same(dev.source_path, source):
        dev.source_path = path
        return SourceClaim(path, "", True)
    known = s.scalars(
        select(m.IngestRun.source_path).where(m.IngestRun.device_id == device_id).order_by(m.IngestRun.id)
    )
    for earlier in known:  # the first run's path names the folder (cases from before links were resolved)
        if earlier != dev.source_path and _same(earlier, source):
            return SourceClaim(path, _prefix(earlier, source), False)  # an added source, resumed
    if not add_source:
        raise SourceConflict(
            f"device {device_id} was ingested from {dev.source_path}, not {path}: to add this source to "
            f"the same device pass --add-source (its files are stored under {_name(path)}), otherwise "
            "use another --device"
        )
    unfinished = _unfinished_sources(s, device_id)
    if unfinished:
        raise SourceConflict(
            f"device {device_id}: finish the ingest of {unfinished[0]} first (run it again), then add {path}"
        )
    name = _name(path)
    clash = s.scalar(
        select(m.File.locator)
        .where(
            m.File.device_id == device_id,
            or_(
                m.File.locator == name,
                func.substr(m.File.locator, 1, len(name) + 1).in_([name + "/", name + "!"]),
            ),
        )
        .limit(1)
    )
    if clash is not None:
        raise SourceConflict(
            f"device {device_id} already holds {clash}: the files of {path} (stored under {name}) could "
            "collide with it; rename the source's folder (or its link) or use another --device"
        )
    return SourceClaim(path, _prefix(path, source), False)


def check_claim(case: CaseHandle, device_id: str, source: Path, *, add_source: bool) -> None:
    """Refuse a source the ingest would refuse, before any progress display or worker pool starts."""
    with case.session() as s:
        claim_source(s, device_id, source, add_source=add_source)
        s.rollback()


def _unfinished_sources(s: Session, device_id: str) -> list[str]:
    """Sources of the device whose latest run did not end ``complete``."""
    latest: dict[str, str] = {}
    for path, status in s.execute(
        select(m.IngestRun.source_path, m.IngestRun.status)
        .where(m.IngestRun.device_id == device_id)
        .order_by(m.IngestRun.id)
    ):
        latest[path] = status
    return [p for p, status in latest.items() if status != COMPLETE]


def mark_interrupted(s: Session, device_id: str) -> int:
    """Runs of this device still ``running`` were killed: one device is ingested by one process at a
    time, so a new run of it means the old one is gone. Other devices' runs (a batch running beside
    this one) are never touched."""
    res = s.execute(
        update(m.IngestRun)
        .where(m.IngestRun.device_id == device_id, m.IngestRun.status == RUNNING)
        .values(status=INTERRUPTED)
    )
    return int(getattr(res, "rowcount", 0) or 0)


def end_run(case: CaseHandle, run_id: int, status: str) -> None:
    """Best effort, for a run ended by an exception: the case may be the thing that failed."""
    try:
        with case.session() as s:
            s.execute(
                update(m.IngestRun)
                .where(m.IngestRun.id == run_id, m.IngestRun.status == RUNNING)
                .values(status=status, finished_at=m.utcnow())
            )
            s.commit()
    except Exception:  # noqa: BLE001, S110 - the original exception is the one to report
        pass


def stored_file_errors(case: CaseHandle, device_id: str) -> int:
    """Files of the device recorded with an error, by this run or any earlier one."""
    with case.session() as s:
        n = s.scalar(
            select(func.count())
            .select_from(m.File)
            .where(m.File.device_id == device_id, m.File.error.is_not(None))
        )
    return int(n or 0)


def record_verifications(
    case: CaseHandle, device_id: str, run_id: int, checks: list[tuple[str, str, str, str]], image_source: bool
) -> None:
    """One row per check and run, pass or fail. The device's evidence hash is the image's own stored
    hash only when the image *is* the device's source; an image found inside a folder is a file the
    device holds, not the evidence item."""
    with case.session() as s:
        for locator, algorithm, stored, computed in checks:
            s.add(
                VerificationRow(
                    device_id=device_id,
                    locator=locator,
                    algorithm=algorithm,
                    stored=stored,
                    computed=computed,
                    verified=stored == computed,
                    run_id=run_id,
                )
            )
            dev = s.get(m.Device, device_id)
            if image_source and dev is not None and "!" not in locator and not dev.evidence_hash:
                dev.evidence_hash = f"{algorithm}:{stored}"
        s.commit()


def record_facts(case: CaseHandle, device_id: str, run_id: int, facts: list[tuple[str, str, str]]) -> None:
    """The device facts extractions stated; a fact already stored from the same file is kept as it was
    (a resumed or repeated run states it again)."""
    with case.session() as s:
        have = {
            (name, source)
            for name, source in s.execute(
                select(DeviceFact.name, DeviceFact.source).where(DeviceFact.device_id == device_id)
            )
        }
        for locator, name, value in facts:
            if (name, locator) in have:
                continue
            have.add((name, locator))
            s.add(DeviceFact(device_id=device_id, name=name, value=value, source=locator, run_id=run_id))
        s.commit()


def device_facts(case: CaseHandle, device_id: str) -> list[tuple[str, str, str]]:
    """``(name, value, source)`` of every fact stored for the device, in name order."""
    with case.session() as s:
        rows = s.execute(
            select(DeviceFact.name, DeviceFact.value, DeviceFact.source)
            .where(DeviceFact.device_id == device_id)
            .order_by(DeviceFact.name, DeviceFact.source)
        )
        return [(name, value, source) for name, value, source in rows]
