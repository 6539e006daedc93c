"""Cellebrite UFDR as evidence: files under their device paths, facts, nothing of the zip lost.

Synthetic UFDRs (``tessera.synth.ufdr``) are walked as the pipeline walks them: every tagged file is
found under its device path with the report's hash, the zip member's name is kept in the raw path
and the resolver reopens it; untagged members keep their names; a tagged file the zip lacks is an
item with the error; a broken report.xml is named on the UFDR and nothing in it is lost; a zip that
is no UFDR is listed as before. Then the whole phone is ingested: facts, messages, media links, and
the command's exit status for a broken report.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from sqlalchemy import func, select

from tessera.evidence import Limits, iter_evidence, open_item
from tessera.evidence.base import discard_spool, split_raw_path
from tessera.evidence.resolve import reopen
from tessera.evidence.zip import ZipFormat
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.ingest.runs import device_facts
from tessera.records import EvidenceItem, Opener
from tessera.store import models as m
from tessera.store.case import CaseHandle, open_case
from tessera.synth.ufdr import Phone, PhoneFile, example_phone, expected_messages, report_xml, write_ufdr


def _walk(root: Path, scratch: Path) -> tuple[list[EvidenceItem], list[tuple[str, str, str]]]:
    facts: list[tuple[str, str, str]] = []
    limits = Limits(scratch_dir=scratch, on_fact=lambda *f: facts.append(f))
    return list(iter_evidence(root, limits)), facts


def _sha(item: EvidenceItem) -> str:
    assert item.opener is not None
    with open_item(item.opener) as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_files_under_device_paths_with_facts(tmp_path: Path) -> None:
    phone = example_phone(seed=2)
    gone = phone.files[0].device_path
    ev = tmp_path / "ev"
    ev.mkdir()
    # No .ufdr name: found by its structure (a zip with report.xml at its root).
    write_ufdr(phone, ev / "extraction.bin", missing=frozenset({gone}), extra={"Summary/summary.txt": b"x"})
    items, facts = _walk(ev, tmp_path)
    by_loc = {i.locator: i for i in items}
    assert len(by_loc) == len(items)
    for f in phone.files:
        item = by_loc[f"/extraction.bin!{f.device_path}"]
        if f.device_path == gone:
            assert item.opener is None and item.error is not None and "absent from the UFDR" in item.error
            continue
        assert item.error is None, item.error
        assert _sha(item) == hashlib.sha256(f.data).hexdigest()
        assert item.mtime == f.mtime.timestamp()  # the device's time, from the report
        # The zip member stays recoverable: the raw path's layer is its name in the UFDR.
        layers = split_raw_path(item.raw_path, item.locator)
        assert layers[0] == b"/extraction.bin" and layers[1] == f"/files/Image/{f.name}".encode()
    assert by_loc["/extraction.bin!/report.xml"].error is None
    assert by_loc["/extraction.bin!/Summary/summary.txt"].size == 1
    assert len(items) == 1 + len(phone.files) + 2  # the UFDR, its files, report.xml, the summary
    got = {(name, value) for loc, name, value in facts if loc == "/extraction.bin!/report.xml"}
    assert got == {
        ("model", phone.model),
        ("imei", phone.imei),
        ("serial", phone.serial),
        ("os_version", phone.os_version),
        ("extraction_time", phone.extraction_time),
        ("extraction_tool", "Cellebrite UFED"),
        ("extraction_tool_version", phone.tool_version),
        ("extraction_type", phone.extraction_type),
    }


def test_resolver_reopens_device_paths(tmp_path: Path) -> None:
    phone = example_phone(seed=6, chats=2, messages=3)
    ev = tmp_path / "ev"
    ev.mkdir()
    write_ufdr(phone, ev / "p.ufdr")
    items, _ = _walk(ev, tmp_path)
    roots = [(str(ev), "")]
    for item in items:
        if item.depth == 0 or item.opener is None:
            continue
        again = reopen(roots, item.locator, item.raw_path, Limits(scratch_dir=tmp_path))
        assert again.locator == item.locator and _sha(again) == _sha(item)
        discard_spool(again)


def test_resolver_reads_only_the_wanted_member(tmp_path: Path) -> None:
    """A byte budget two members fit in and the whole UFDR does not: the walk records the last
    members as past the budget, the resolver (asking the format's ``find``) reads just the one."""
    files = [PhoneFile(f"/private/var/mobile/Media/f{i}.bin", bytes([i]) * 4000, "Other") for i in range(5)]
    ev = tmp_path / "ev"
    ev.mkdir()
    write_ufdr(Phone(files=files), ev / "p.ufdr")
    limits = Limits(scratch_dir=tmp_path, max_total_bytes=9000)
    walked = {i.locator: i for i in iter_evidence(ev, limits)}
    last = "/p.ufdr!/private/var/mobile/Media/f4.bin"
    assert walked[last].opener is None and "max_total_bytes" in (walked[last].error or "")
    again = reopen([(str(ev), "")], last, walked[last].raw_path, limits)
    assert _sha(again) == hashlib.sha256(files[4].data).hexdigest()


def test_broken_report_keeps_every_member(tmp_path: Path) -> None:
    phone = example_phone(seed=7)
    ev = tmp_path / "ev"
    ev.mkdir()
    write_ufdr(phone, ev / "p.ufdr", break_report_at=3000)
    items, facts = _walk(ev, tmp_path)
    top = items[0]
    assert top.locator == "/p.ufdr" and top.error is not None
    assert "report.xml: malformed XML at line" in top.error and "column" in top.error
    names = sorted(i.locator for i in items[1:])
    with zipfile.ZipFile(ev / "p.ufdr") as zf:
        assert names == sorted(f"/p.ufdr!/{n}" for n in zf.namelist())
    assert facts == []


def test_a_zip_without_report_is_a_plain_zip(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    with zipfile.ZipFile(ev / "looks.ufdr", "w") as zf:
        zf.writestr("files/Image/a.jpg", b"abc")
        zf.writestr("sub/report.xml", b"<project/>")  # not at the root: no UFDR
    items, facts = _walk(ev, tmp_path)
    plain = list(ZipFormat().members(Opener(path=str(ev / "looks.ufdr")), items[0], Limits()))
    assert [(i.locator, i.raw_path, i.size) for i in items[1:]] == [
        (i.locator, i.raw_path, i.size) for i in plain
    ]
    assert not facts


def test_content_not_matching_the_report_hash_is_flagged(tmp_path: Path) -> None:
    good = PhoneFile("/private/var/mobile/Media/DCIM/100APPLE/IMG_0002.JPG", b"original bytes")
    phone = Phone(files=[good])
    ev = tmp_path / "ev"
    ev.mkdir()
    with zipfile.ZipFile(ev / "p.ufdr", "w") as zf:
        zf.writestr("files/Image/IMG_0002.JPG", b"altered bytes")
        zf.writestr("report.xml", "".join(report_xml(phone)))
    items, _ = _walk(ev, tmp_path)
    item = next(i for i in items if i.locator.endswith("IMG_0002.JPG"))
    assert item.opener is not None  # the bytes are kept: they are what the UFDR holds
    assert item.error is not None and "does not match the SHA256" in item.error


def test_ingest_stores_files_facts_and_messages(case: CaseHandle, tmp_path: Path) -> None:
    phone = example_phone(seed=8, chats=3, messages=6)
    ev = tmp_path / "ev"
    ev.mkdir()
    write_ufdr(phone, ev / "phone.ufdr")
    res = ingest(case, ev, IngestOptions("P-UFDR", kind="phone", workers=0))
    assert [(r.locator, r.parser, r.status) for r in res.messaging] == [
        ("/phone.ufdr!/report.xml", "ufdr-report", "complete")
    ]
    assert res.messaging[0].messages == expected_messages(phone)
    facts = {(n, v) for n, v, src in device_facts(case, "P-UFDR") if src == "/phone.ufdr!/report.xml"}
    assert ("imei", phone.imei) in facts and ("model", phone.model) in facts
    with case.session() as s:
        for f in phone.files:
            sha = s.scalar(select(m.File.sha256).where(m.File.locator == f"/phone.ufdr!{f.device_path}"))
            assert sha == hashlib.sha256(f.data).hexdigest(), f.device_path
        linked = s.execute(
            select(m.Message.media_path, m.Message.media_sha256).where(m.Message.media_path.is_not(None))
        ).all()
        assert linked and all(sha is not None for _, sha in linked)
        stored = {path: sha for path, sha in s.execute(select(m.File.locator, m.File.sha256)).all()}
        assert all(stored[path] == sha for path, sha in linked)
        n = s.scalar(select(func.count()).select_from(m.Message).where(m.Message.device_id == "P-UFDR"))
        assert n == expected_messages(phone)


def test_cli_broken_report_exits_1_and_stores_nothing(tmp_path: Path) -> None:
    phone = example_phone(seed=9, chats=2, messages=4)
    ev = tmp_path / "ev"
    ev.mkdir()
    text = "".join(report_xml(phone))
    cut = text.index("<decodedData>") + 2000  # the file list reads, the chats break
    write_ufdr(phone, ev / "phone.ufdr", break_report_at=cut)
    case = tmp_path / "case"

    def tessera(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)

    assert tessera("case", "init", str(case), "--name", "Op UFDR", "--agency", "XX").returncode == 0
    r = tessera(
        "ingest", str(ev), "--device", "P-9", "--kind", "phone", "--workers", "0", "--case", str(case)
    )
    assert r.returncode == 1, r.stdout + r.stderr
    out = " ".join((r.stdout + r.stderr).split())
    assert "failed" in out and "malformed XML at line" in out
    handle = open_case(case)
    with handle.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Message)) == 0
        src = s.execute(select(m.MessagingSource.status, m.MessagingSource.error)).one()
        assert src[0] == "failed" and "malformed XML at line" in (src[1] or "")


def test_entity_bomb_in_report_is_refused_not_expanded(tmp_path: Path) -> None:
    """A report.xml declaring nested entities (a "billion laughs"): expat's amplification limit stops
    it, the UFDR carries the error and its members are kept under their zip names."""
    ents = '<!ENTITY a0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE project [{ents}]><project><metadata section="Device Info">'
        '<item name="IMEI">&a9;</item></metadata></project>'
    )
    ev = tmp_path / "ev"
    ev.mkdir()
    with zipfile.ZipFile(ev / "p.ufdr", "w") as zf:
        zf.writestr("files/Image/a.jpg", b"abc")
        zf.writestr("report.xml", doc)
    items, facts = _walk(ev, tmp_path)
    assert items[0].error is not None and "amplification" in items[0].error
    assert sorted(i.locator for i in items[1:]) == ["/p.ufdr!/files/Image/a.jpg", "/p.ufdr!/report.xml"]
    assert facts == []


def test_truncated_ufdr_recovers_members(tmp_path: Path) -> None:
    """A UFDR cut short (no central directory): the zip format's local-header recovery lists what is
    there, under the zip names (the report, written last, is gone with the end)."""
    phone = example_phone(seed=11, chats=2, messages=3)
    whole = write_ufdr(phone, tmp_path / "whole.ufdr").read_bytes()
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "cut.ufdr").write_bytes(whole[: len(whole) // 2])
    items, _ = _walk(ev, tmp_path)
    assert items[0].error is not None and "corrupt archive" in items[0].error
    recovered = [i for i in items[1:] if i.opener is not None]
    assert recovered and all(i.locator.startswith("/cut.ufdr!/files/") for i in recovered)
