"""The real messaging corpus (../shared/corpus/messaging, read in place) through the whole ingest.

Every file is accounted for: each source parsed in full with its ground truth (IPED's 74 messages;
every chat-miner and whatstk export; Telegram for Android's schema-only cache4.db); companions and
ground-truth files are not sources. No account carries an E.164 value whose digits are not those of one
of its raw identifiers. The same corpus inside a zip and a tar gives the same result as the folder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.messaging.identity import international_digits
from tessera.store import models as m
from tessera.store.case import CaseHandle

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "messaging"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

#: Files of the corpus that are not messaging sources: ground truth of the peer projects, and the
#: companions read beside a source.
NOT_SOURCES = {
    "chat-miner/target.json",
    "iped/wa.db",
    "iped/telegram-android/cache4.db-wal",
    "iped/telegram-android/cache4.db-shm",
}


def _sources(case: CaseHandle, device: str) -> dict[str, tuple[str, str, int]]:
    with case.session() as s:
        rows = s.execute(
            select(
                m.MessagingSource.locator,
                m.MessagingSource.parser,
                m.MessagingSource.status,
                m.MessagingSource.messages,
            ).where(m.MessagingSource.device_id == device)
        ).all()
    return {loc: (parser, status, n) for loc, parser, status, n in rows}


def test_every_file_of_the_corpus_is_accounted_for(sqlite_case: CaseHandle) -> None:
    res = ingest(sqlite_case, CORPUS, IngestOptions("P1", kind="phone", workers=0))
    got = _sources(sqlite_case, "P1")
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file()}
    files -= {"README.md"} | {f for f in files if f.endswith("_target.csv")}
    assert {loc.lstrip("/") for loc in got} == files - NOT_SOURCES
    assert got["/iped/telegram-android/cache4.db"] == ("telegram-android", "complete", 0)  # schema only
    assert got["/iped/msgstore.db"] == ("whatsapp-msgstore", "complete", 74)
    exports = {loc: v for loc, v in got.items() if loc.endswith(".txt")}
    assert exports and all(
        parser == "whatsapp-export" and status == "complete" and n > 0
        for parser, status, n in exports.values()
    ), exports
    assert got["/whatstk/pokemon.txt"][2] == 20
    assert res.errors == 0, res.problems


def test_no_e164_is_made_of_digits_no_source_wrote(sqlite_case: CaseHandle) -> None:
    ingest(sqlite_case, CORPUS, IngestOptions("P1", kind="phone", workers=0))
    with sqlite_case.session() as s:
        aliases: dict[int, set[str]] = {}
        for acc_id, raw in s.execute(select(m.AccountAlias.account_id, m.AccountAlias.raw_id)):
            aliases.setdefault(acc_id, set()).add(raw)
        phones = s.execute(select(m.Account.id, m.Account.phone).where(m.Account.phone.is_not(None))).all()
        valid = dict(s.execute(select(m.Account.phone, m.Account.phone_valid)).all())
    assert len(phones) > 300
    for acc_id, phone in phones:
        written = {international_digits(raw) for raw in aliases.get(acc_id, ())}
        assert phone[1:] in written, (phone, aliases.get(acc_id))
    # The device JID 556199120446.0:0 is the person +556199120446, never +5561991204460.
    assert "+556199120446" in valid and "+5561991204460" not in valid
    # A pre-2016 eight-digit Brazilian mobile keeps its digits, flagged as failing validation.
    assert valid["+556181827831"] is False


def _archive(kind: str, dest: Path) -> Path:
    if kind == "zip":
        return Path(shutil.make_archive(str(dest / "extraction"), "zip", CORPUS))
    path = dest / "extraction.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(CORPUS, arcname="data")
    return path


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_inside_an_archive_the_corpus_reads_the_same(
    sqlite_case: CaseHandle, tmp_path: Path, kind: str
) -> None:
    ingest(sqlite_case, CORPUS, IngestOptions("F", workers=0))
    (tmp_path / "dev").mkdir()
    _archive(kind, tmp_path / "dev")
    ingest(sqlite_case, tmp_path / "dev", IngestOptions("A", workers=0))
    folder = {loc.lstrip("/"): v for loc, v in _sources(sqlite_case, "F").items()}
    inside = {loc.split("!/", 1)[1].removeprefix("data/"): v for loc, v in _sources(sqlite_case, "A").items()}
    assert inside == folder


def test_cli_on_the_corpus_exits_0_and_names_every_source(tmp_path: Path) -> None:
    def tessera(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)

    case = tmp_path / "case"
    assert tessera("case", "init", str(case), "--name", "Op", "--agency", "XX").returncode == 0
    run = tessera("ingest", str(CORPUS), "--device", "P1", "--case", str(case), "--workers", "0")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "complete P1:/iped/msgstore.db (whatsapp-msgstore): 74 messages" in run.stdout
    assert "complete P1:/iped/telegram-android/cache4.db (telegram-android): 0 messages" in run.stdout
    rows = json.loads(tessera("sources", "--case", str(case), "--format", "json").stdout)
    db = next(r for r in rows if r["locator"] == "/iped/msgstore.db")
    assert db["units"]["messages"]["present"] == 75 and db["units"]["messages"]["parsed"] == 74
    accounts = json.loads(tessera("accounts", "--case", str(case), "--format", "json").stdout)
    flagged = {a["account"]: a for a in accounts if a["phone_valid"] is False}
    assert "+556181827831" in flagged and flagged["+556181827831"]["country"] == "BR"
