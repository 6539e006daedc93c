"""The report written as it is read: the same bytes as the report held whole, in bounded memory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.report.build import build_report, open_report
from tessera.report.render import WRITERS, write_json
from tessera.report.stream import Rows
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tessera.synth.bulk_hits import write_bulk_hits

_STAMP = re.compile(r'"generated_at": "[^"]*"|generated \S+ by')


def _same_moment(text: str) -> str:
    return _STAMP.sub("<generated>", text)


def test_streamed_report_is_the_report_held_whole(case: CaseHandle, tmp_path: Path) -> None:
    write_bulk_hits(case, 25, device="B1", problem_every=4)
    with case.session() as s:
        s.add(m.Device(id="B2", kind="phone", source_path="/synthetic/empty"))  # no hits, no problems
        s.commit()
    whole = build_report(case)
    assert [len(d["hits"]) for d in whole["devices"]] == [25, 0]
    assert [len(d["problems"]) for d in whole["devices"]] == [7, 0]
    expected = json.dumps(whole, indent=2, ensure_ascii=False) + "\n"
    for fmt, writer in WRITERS.items():
        with open_report(case) as streamed:
            dev = streamed["devices"][0]
            assert isinstance(dev["hits"], Rows) and isinstance(dev["problems"], Rows)
            writer(streamed, tmp_path / f"streamed.{fmt}")
        writer(whole, tmp_path / f"whole.{fmt}")
        got = (tmp_path / f"streamed.{fmt}").read_text(encoding="utf-8")
        assert _same_moment(got) == _same_moment((tmp_path / f"whole.{fmt}").read_text(encoding="utf-8"))
        if fmt == "json":
            assert _same_moment(got) == _same_moment(expected)
        if fmt == "html":
            assert (
                "Hits (25)" in got
                and "Hits (0)" in got
                and "Files that could not be fully processed (7)" in got
            )
    # Rows are read again on every pass, as a list would be.
    with open_report(case, "B1") as one:
        hits = one["devices"][0]["hits"]
        assert list(hits) == list(hits) == whole["devices"][0]["hits"]


def test_network_section_for_chats_and_accounts_without_messages(case: CaseHandle, tmp_path: Path) -> None:
    """FINDINGS: ``"network": null`` for a case with chats and accounts but no messages."""
    with case.session() as s:
        s.add(m.Device(id="N1", kind="phone", source_path="/synthetic/n1"))
        s.add(m.Chat(platform="whatsapp", key="120363000000000001@g.us", title="Group 1"))
        s.add(m.Account(platform="whatsapp", key="+34600000001"))
        s.commit()
    with open_report(case) as report:
        write_json(report, tmp_path / "r.json")
    network = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["network"]
    assert network is not None
    assert network["accounts"] == 1 and [g["group"] for g in network["groups"]] == ["Group 1"]


def _peak_rss_mb(case_dir: Path, fmt: str, out: Path) -> float:
    """Peak resident memory of ``tessera report`` in its own process (wait4 reports that child's)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tessera",
            "report",
            "--format",
            fmt,
            "--out",
            str(out),
            "--case",
            str(case_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return usage.ru_maxrss / 1024  # Linux: kilobytes


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_report_memory_does_not_grow_with_hits(tmp_path: Path, fmt: str) -> None:
    """Twenty times the hits. Held whole (before the fix), a report took about 4 KiB (JSON) or
    2.8 KiB (HTML) more per hit: ~78 and ~53 MiB more here; streamed, a few MiB at most.
    bench/bench_report.py measures 20,000 against 200,000 hits."""
    peaks = {}
    for n in (1_000, 20_000):
        handle = init_case(tmp_path / f"case{n}", "Bulk", "XX-TEST")
        write_bulk_hits(handle, n)
        handle.close()
        out = tmp_path / f"r{n}.{fmt}"
        peaks[n] = _peak_rss_mb(tmp_path / f"case{n}", fmt, out)
        if fmt == "json":
            dev = json.loads(out.read_text(encoding="utf-8"))["devices"][0]
            assert len(dev["hits"]) == n and len(dev["problems"]) == n // 10
    growth = peaks[20_000] - peaks[1_000]
    assert growth < 20, peaks
