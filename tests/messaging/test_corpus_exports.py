"""The WhatsApp export parser against real exports from public test suites, read in place from
``../shared/corpus/messaging/`` (chat-miner's layouts with chat-miner's expected parses, whatstk's
group exports). Each file must parse to its target and account for every line.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from tessera.messaging.base import ParseContext
from tessera.messaging.coverage import COMPLETE
from tessera.messaging.records import MessageRecord
from tessera.messaging.whatsapp_export import WhatsAppExportParser
from tessera.records import Opener

CORPUS = (Path(__file__).parents[2] / "../shared/corpus/messaging").resolve()
MINER = CORPUS / "chat-miner"
WHATSTK = CORPUS / "whatstk"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not present at {CORPUS}")
PARSER = WhatsAppExportParser()
#: The files chat-miner checks against target.json (its first group of layouts).
TARGET_JSON_FILES = (
    "test_[mmddyy]_24hrs.txt",
    "test_ddmmyy_24hrs.txt",
    "test_mmddyy_24hrs.txt",
    "test_mmddyyyy_12hrs.txt",
    "test_yyyymmdd_24hrs.txt",
)
CSV_FILES = (
    "test_dateformat1",
    "test_dateformat2",
    "test_dateformat3",
    "test_dateformat5",
    "test_dateformat6",
    "test_unicode",
)


def parse(path: Path) -> tuple[list[MessageRecord], ParseContext]:
    data = path.read_bytes()  # read in place; never copied
    assert PARSER.detect(str(path), data[:8192]), path.name
    ctx = ParseContext(str(path), Opener(data=data), Path("/nonexistent"))
    records = [r for r in PARSER.parse(ctx) if isinstance(r, MessageRecord)]
    return records, ctx


def line_count(path: Path) -> int:
    text = path.read_text(encoding="utf-8")
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def assert_accounted(path: Path, ctx: ParseContext, n_messages: int) -> None:
    cov = ctx.coverage
    assert cov.status() == COMPLETE, (path.name, cov.summary())
    lines = cov.units["lines"]
    assert lines.present == line_count(path)
    assert lines.parsed + lines.ignored + lines.skipped == lines.present and lines.skipped == 0
    assert cov.units["messages"].present == cov.units["messages"].parsed == n_messages


def as_miner(msg: MessageRecord) -> tuple[str, str, str]:
    """A record as chat-miner writes it: multi-line text joined by spaces, NFKC-normalised, system lines
    by "System", a message WhatsApp wrote as ``Name:.`` as "<Disappearing Message>"."""
    stamp = msg.time.strftime("%Y-%m-%dT%H:%M:%S")
    if msg.kind == "system":
        return stamp, "System", msg.text or ""
    if msg.raw.get("marker", "").endswith(":."):
        return stamp, msg.sender or "", "<Disappearing Message>"
    text = unicodedata.normalize("NFKC", " ".join((msg.text or "").split("\n")))
    return stamp, unicodedata.normalize("NFKC", msg.sender or ""), text


@pytest.mark.parametrize("name", TARGET_JSON_FILES)
def test_chat_miner_first_group_matches_target_json(name: str) -> None:
    target = json.loads((MINER / "target.json").read_text(encoding="utf-8"))
    path = MINER / name
    msgs, ctx = parse(path)
    # target.json holds the 6 messages people wrote; the other 3 dated lines are WhatsApp's notices
    # and one "Name:." line, checked separately.
    texts = sorted(as_miner(m) for m in msgs if m.kind == "text")
    assert texts == sorted((t["timestamp"], t["author"], t["message"]) for t in target)
    rest = [(m.kind, m.action) for m in msgs if m.kind != "text"]
    assert sorted(rest, key=str) == sorted(
        [("other", None), ("system", "created"), ("system", "added")], key=str
    )
    added = next(m for m in msgs if m.action == "added")
    assert added.text == "You were added" and added.targets == ["whatsapp:owner@device"]
    assert_accounted(path, ctx, 9)


@pytest.mark.parametrize("name", CSV_FILES)
def test_chat_miner_dateformats_match_target_csv(name: str) -> None:
    with (MINER / f"{name}_target.csv").open(encoding="utf-8", newline="") as fh:
        target = [
            (row["timestamp"].replace(" ", "T"), row["author"], row["message"]) for row in csv.DictReader(fh)
        ]
    path = MINER / f"{name}.txt"
    msgs, ctx = parse(path)
    assert sorted(as_miner(m) for m in msgs) == sorted(target)
    assert_accounted(path, ctx, len(target))


def test_whatstk_pokemon() -> None:
    path = WHATSTK / "pokemon.txt"
    msgs, ctx = parse(path)
    assert len(msgs) == 20
    first, second = msgs[:2]
    assert (first.kind, first.action, first.sender, first.raw["notice_by"]) == (
        "system",
        "encrypted",
        None,
        "Pokemon Chat",
    )
    assert (second.kind, second.action, second.sender) == ("system", "encrypted", None)
    assert all(m.kind == "text" for m in msgs[2:])
    assert {m.sender for m in msgs[2:]} == {
        "Ash Ketchum",
        "Brock",
        "Misty",
        "Prof. Oak",
        "Jessie & James",
        "Raichu",
        "Meowth",
        "Wobbuffet",
    }
    assert msgs[-1].time.isoformat() == "2016-10-31T12:23:00+00:00"
    assert_accounted(path, ctx, 20)
    assert ctx.coverage.units["lines"].ignored == 1  # the blank line at the end


def test_whatstk_lorem_counts_every_dated_line() -> None:
    path = WHATSTK / "lorem.txt"
    text = path.read_text(encoding="utf-8")
    dated = re.findall(r"^\[\d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] ", text, re.MULTILINE)
    msgs, ctx = parse(path)
    assert len(msgs) == len(dated) > 400
    assert all(m.kind == "text" and m.sender for m in msgs)
    assert_accounted(path, ctx, len(dated))


def test_every_corpus_export_is_claimed_and_complete() -> None:
    files: list[Any] = sorted(MINER.glob("*.txt")) + sorted(WHATSTK.glob("*.txt"))
    assert len(files) == 13
    for path in files:
        _, ctx = parse(path)
        assert ctx.coverage.status() == COMPLETE, path.name
