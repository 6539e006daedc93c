"""CASE/UCO out: `case_validate` (case-utils, its bundled CASE ontology, offline) passes on the export
of the demo case, the export holds what the database holds, never message text or file content, and
two exports of one case differ only in the export's own time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tessera.cli.demo import run_demo
from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.report.case_uco import export_case
from tessera.review.data import decide
from tessera.store import models as m
from tessera.store.case import CaseHandle, open_case
from tessera.synth.network import make_network
from tessera.synth.operation import make_operation
from tessera.synth.phone import build_iphone, write_iphone_backup
from tessera.synth.seizures import write_seizures
from tests.conftest import shared_dir

CASE_VALIDATE = shutil.which("case_validate") or str(Path(sys.executable).parent / "case_validate")
CORPUS_E01 = shared_dir() / "corpus" / "disk" / "ext2.E01"
PREPARED = Path(__file__).with_name("case_validate_prepared.py")


def _validate(path: Path) -> None:
    """case_validate with its defaults (Info and Warning results fail too), its SPARQL prepared once."""
    r = subprocess.run([sys.executable, str(PREPARED), str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and "Conforms: True" in r.stdout, (r.stdout + r.stderr)[-4000:]


def _decide_some(case: CaseHandle) -> list[str]:
    """Two reviewers' decisions, through the review workstation's own (audited) function."""
    with case.session() as s:
        shas = list(
            s.scalars(select(m.Media.sha256).where(m.Media.kind == "image").order_by(m.Media.sha256).limit(2))
        )
        decide(s, "reviewer-1", shas[0], 1, False)
        decide(s, "reviewer-2", shas[1], 2, False)
        s.commit()
    return shas


def _nodes(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text("utf-8"))
    assert set(doc) == {"@context", "@graph"}
    return list(doc["@graph"])


def _types(nodes: list[dict[str, Any]]) -> Counter[str]:
    return Counter(n["@type"] for n in nodes)


def _db_counts(case: CaseHandle) -> dict[str, int]:
    with case.session() as s:

        def n(model: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

        held = select(m.File.id).where(m.File.sha256 == m.Match.sha256).exists()
        return {
            "files": n(m.File),
            "evidence_files": int(
                s.scalar(select(func.count(m.Device.id)).where(m.Device.evidence_hash.is_not(None))) or 0
            ),
            "messages": n(m.Message),
            "accounts": n(m.Account),
            "chats": n(m.Chat),
            "devices": n(m.Device),
            "matches": int(s.scalar(select(func.count(m.Match.id)).where(held)) or 0),
            "decisions": n(m.Decision),
            "runs": n(m.IngestRun),
            "sources": n(m.MessagingSource),
            "hashsets": n(m.HashSet),
        }


def _assert_counts(nodes: list[dict[str, Any]], db: dict[str, int]) -> None:
    types = _types(nodes)
    assert types["uco-observable:File"] == db["files"] + db["evidence_files"]
    assert types["uco-observable:Message"] == db["messages"]
    assert types["uco-observable:ApplicationAccount"] == db["accounts"]
    assert types["uco-observable:MessageThread"] == db["chats"]
    assert types["uco-observable:Device"] == db["devices"]
    assert types["uco-core:Annotation"] == db["matches"] + db["decisions"]
    # one per run, per messaging source, per hash set, per decision, and the export itself
    actions = db["runs"] + db["sources"] + db["hashsets"] + db["decisions"] + 1
    assert types["case-investigation:InvestigativeAction"] == actions
    assert types["case-investigation:ProvenanceRecord"] == db["hashsets"] + db["decisions"]
    ids = [n["@id"] for n in nodes]
    assert len(ids) == len(set(ids))


def _assert_no_text_no_content(case: CaseHandle, out: Path, evidence: Path) -> None:
    text = out.read_text("utf-8")
    assert "messageText" not in text and "dataPayload" not in text
    with case.session() as s:
        texts = [
            t for t in s.scalars(select(m.Message.text).where(m.Message.text.is_not(None))) if len(t) >= 6
        ]
        notes = [t for t in s.scalars(select(m.Decision.note).where(m.Decision.note.is_not(None))) if t]
    assert texts  # the case holds message text, and none of it is exported
    for t in texts + notes:
        assert json.dumps(t)[1:-1] not in text, t
    seen = 0
    for f in sorted(evidence.rglob("*")):
        if f.is_file() and 16 <= f.stat().st_size <= 4096:
            try:
                content = f.read_text("utf-8").strip()
            except UnicodeDecodeError:
                continue
            if len(content) >= 16:
                seen += 1
                assert json.dumps(content)[1:-1] not in text, f
    assert seen  # there were small text files to look for


def _strip_export_action(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in nodes if n.get("uco-core:name") != "CASE/UCO export"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    """`tessera demo`'s own case (SQLite), two decisions added, exported through the command line."""
    root = tmp_path_factory.mktemp("demo")
    run_demo(str(root))
    case = open_case(root / "case")
    _decide_some(case)
    counts = _db_counts(case)
    case.close()
    out = root / "case.jsonld"
    r = subprocess.run(
        [sys.executable, "-m", "tessera", "export", "case", "--out", str(out), "--case", str(root / "case")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert f"{counts['files']:,} file(s)" in r.stdout and "left out" not in r.stdout
    return root, out, counts


def test_prepared_runner_reports_what_case_validate_reports(tmp_path: Path) -> None:
    """On a document that fails (IRIs without UUIDs, a hash method outside UCO's vocabulary, a missing
    hash value), the runner the other tests use says exactly what the plain command says."""
    doc = {
        "@context": {
            "kb": "urn:tessera:kb:",
            "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
            "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
            "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@graph": [
            {
                "@id": "kb:file-1",
                "@type": "uco-observable:File",
                "uco-core:hasFacet": [
                    {
                        "@id": "kb:content-1",
                        "@type": "uco-observable:ContentDataFacet",
                        "uco-observable:hash": [
                            {"@id": "kb:hash-1", "@type": "uco-types:Hash", "uco-types:hashMethod": "PDQ"}
                        ],
                    }
                ],
            }
        ],
    }
    bad = tmp_path / "bad.jsonld"
    bad.write_text(json.dumps(doc), "utf-8")
    plain = subprocess.run([CASE_VALIDATE, str(bad)], capture_output=True, text=True)
    prepared = subprocess.run([sys.executable, str(PREPARED), str(bad)], capture_output=True, text=True)
    assert plain.returncode == prepared.returncode == 1
    assert "Conforms: False" in plain.stdout and "UcoThings are suggested to end with a UUID" in plain.stdout
    assert prepared.stdout == plain.stdout


def test_case_validate_passes_on_the_demo_export(demo: tuple[Path, Path, dict[str, int]]) -> None:
    _, out, _ = demo
    _validate(out)


def test_demo_export_holds_what_the_database_holds(demo: tuple[Path, Path, dict[str, int]]) -> None:
    root, out, counts = demo
    nodes = _nodes(out)
    assert counts["messages"] > 100 and counts["matches"] > 10 and counts["decisions"] == 2
    _assert_counts(nodes, counts)
    by_id = {n["@id"]: n for n in nodes}
    case = open_case(root / "case")
    try:
        _assert_no_text_no_content(case, out, root / "evidence")
        with case.session() as s:
            f = s.execute(
                select(m.File.device_id, m.File.locator, m.Media.md5, m.Media.sha1, m.File.sha256)
                .join(m.Media, m.Media.sha256 == m.File.sha256)
                .order_by(m.File.id)
                .limit(1)
            ).one()
    finally:
        case.close()
    # a file: its chained locator, and the three digests as typed hex values
    (node,) = [
        n
        for n in nodes
        if n["@type"] == "uco-observable:File"
        and any(
            x.get("uco-observable:filePath") == f"{f.device_id}:{f.locator}" for x in n["uco-core:hasFacet"]
        )
    ]
    content = next(x for x in node["uco-core:hasFacet"] if x["@type"] == "uco-observable:ContentDataFacet")
    digests = {h["uco-types:hashMethod"]: h["uco-types:hashValue"] for h in content["uco-observable:hash"]}
    assert digests == {
        "MD5": {"@type": "xsd:hexBinary", "@value": f.md5},
        "SHA1": {"@type": "xsd:hexBinary", "@value": f.sha1},
        "SHA256": {"@type": "xsd:hexBinary", "@value": f.sha256},
    }
    # a decision: an annotation by the reviewer, with the action that made it and its provenance record
    decisions = [n for n in nodes if "reviewer-decision" in n.get("uco-core:tag", [])]
    assert {d["tessera:category"] for d in decisions} == {1, 2}
    for d in decisions:
        assert by_id[d["uco-core:createdBy"]["@id"]]["@type"] == "uco-identity:Identity"
        assert all(by_id[o["@id"]]["@type"] == "uco-observable:File" for o in d["uco-core:object"])
        (action,) = [
            n
            for n in nodes
            if {"@id": d["@id"]} in (n.get("uco-action:result") or [])
            and n["@type"] == "case-investigation:InvestigativeAction"
        ]
        assert action["uco-action:performer"] == d["uco-core:createdBy"]
    # every message names its sender account and application, which exist in the graph
    for msg in (n for n in nodes if n["@type"] == "uco-observable:Message"):
        facet = msg["uco-core:hasFacet"][0]
        assert by_id[facet["uco-observable:application"]["@id"]]["@type"] == "uco-observable:Application"
        if "uco-observable:from" in facet:
            assert by_id[facet["uco-observable:from"]["@id"]]["@type"] == "uco-observable:ApplicationAccount"


def test_two_exports_of_one_case_are_identical_but_for_the_export_time(
    demo: tuple[Path, Path, dict[str, int]],
) -> None:
    root, out, _ = demo
    case = open_case(root / "case")
    try:
        again = root / "again.jsonld"
        export_case(case, again, now=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC))
    finally:
        case.close()
    first, second = _nodes(out), _nodes(again)
    assert first != second  # the export action carries its own time
    assert _strip_export_action(first) == _strip_export_action(second)
    assert out.read_text("utf-8").count("\n") == again.read_text("utf-8").count("\n")


def test_case_uco_on_sqlite_and_postgresql(case: CaseHandle, tmp_path: Path) -> None:
    """A smaller case on each backend: a seized computer with known material, a patrol capture, an
    iPhone backup (what the phone says about itself), the corpus' E01 (its own MD5), decisions."""
    op = make_operation(tmp_path / "op")
    import_hashset(case, op.known_list, name="known-list (VICS 2.0)")
    dev = op.devices[0]
    ingest(case, dev.path, IngestOptions(dev.id, kind=dev.kind, suspect=dev.suspect, workers=0))
    net = make_network(1)
    capture = next(ev for ev in write_seizures(net, tmp_path / "net") if ev.kind == "capture")
    ingest(case, capture.path, IngestOptions(capture.seizure.device, kind=capture.kind, workers=0))
    iphone = build_iphone(seed=5, n_messages=30, n_groups=1, n_private=1)
    write_iphone_backup(iphone, tmp_path / "backup")
    ingest(case, tmp_path / "backup", IngestOptions("IP1", kind="phone", workers=0))
    ingest(case, CORPUS_E01, IngestOptions("E01", kind="storage", workers=0))  # read in place
    _decide_some(case)
    out = tmp_path / "small.jsonld"
    stats = export_case(case, out)
    counts = _db_counts(case)
    assert stats.left_out == {}
    assert (stats.files, stats.messages, stats.accounts) == (
        counts["files"],
        counts["messages"],
        counts["accounts"],
    )
    assert counts["messages"] > 10 and counts["matches"] > 0 and counts["evidence_files"] == 1
    nodes = _nodes(out)
    _assert_counts(nodes, counts)
    _assert_no_text_no_content(case, out, tmp_path)
    by_id = {n["@id"]: n for n in nodes}
    phone = next(n for n in nodes if n.get("uco-core:name") == "IP1")
    facets = {f["@type"]: f for f in phone["uco-core:hasFacet"]}
    assert facets["uco-observable:DeviceFacet"]["uco-observable:model"] == iphone.phone.model
    assert facets["uco-observable:DeviceFacet"]["uco-observable:serialNumber"] == iphone.phone.serial
    assert facets["uco-observable:MobileDeviceFacet"]["uco-observable:IMEI"] == iphone.phone.imei
    with case.session() as s:
        e01 = s.get(m.Device, "E01")
        assert e01 is not None and e01.evidence_hash
    (run,) = [n for n in nodes if n.get("uco-core:name") == "acquisition and extraction of E01"]
    evidence = by_id[run["uco-action:object"][1]["@id"]]
    content = next(
        f for f in evidence["uco-core:hasFacet"] if f["@type"] == "uco-observable:ContentDataFacet"
    )
    (digest,) = content["uco-observable:hash"]
    assert (
        f"{digest['uco-types:hashMethod'].lower()}:{digest['uco-types:hashValue']['@value']}"
        == e01.evidence_hash
    )
    assert all(by_id[r["@id"]]["@type"] == "uco-observable:File" for r in run["uco-action:result"])
    _validate(out)
    if case.engine.dialect.name == "sqlite":
        # Once per suite, the plain command itself (no prepared runner) on a whole export.
        plain = subprocess.run([CASE_VALIDATE, str(out)], capture_output=True, text=True, timeout=600)
        assert plain.returncode == 0 and "Conforms: True" in plain.stdout, plain.stdout[-4000:]
