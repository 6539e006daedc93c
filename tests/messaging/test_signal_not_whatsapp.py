"""A Signal Desktop text export is recorded "present, not parsed" with its reason, whatever it is
named, and never stored as a WhatsApp chat (FINDINGS: Messaging)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.ingest.sources import incomplete_sources
from tessera.messaging import PARSERS
from tessera.messaging.detect import detect_parser
from tessera.store import models as m
from tessera.store.case import CaseHandle

# Invented people and words, in the layout signal-export writes (ISO date, comma, no seconds).
SIGNAL = (
    "[2019-12-24, 12:23] Jane Doe: Merry Christmas\n"
    "[2019-12-24, 12:25] Me: Same to you\n"
    "[2019-12-24, 12:26] Jane Doe: ![photo.jpg](./media/photo.jpg)\n"
    "(- Me: \N{THUMBS UP SIGN} -)\n"
)
WHATSAPP = "24/12/2019, 12:23 - Jane Doe: Merry Christmas\n24/12/2019, 12:25 - John Roe: Same to you\n"
# Where a Signal export may lie: as signal-export names it, renamed, or named as WhatsApp names its own.
SIGNAL_NAMES = (
    "home/u/Signal/Jane Doe/chat.md",
    "home/u/Signal/Jane Doe/chat.txt",
    "Download/_chat.txt",
    "Download/WhatsApp Chat with Jane Doe.txt",
)


def test_detection_gives_signal_exports_to_signal_whatever_their_name() -> None:
    for name in SIGNAL_NAMES:
        assert detect_parser(f"/{name}", SIGNAL.encode()) == "signal-export", name
        assert not PARSERS.get("whatsapp-export").detect(f"/{name}", SIGNAL.encode()), name
    assert detect_parser("/Download/WhatsApp Chat with Jane Doe.txt", WHATSAPP.encode()) == "whatsapp-export"
    # WhatsApp itself with an ISO date (Swedish iOS) stays WhatsApp's; a README is nobody's.
    assert detect_parser("/x/_chat.txt", b"[2019-12-24 12:23:05] Jane Doe: hej\n") == "whatsapp-export"
    assert detect_parser("/docs/README.md", b"# Notes\n[2019-12-24, 12:23] meeting\n") is None


def test_signal_export_is_present_not_parsed_and_stores_nothing(case: CaseHandle, tmp_path: Path) -> None:
    root = tmp_path / "dev"
    for name in SIGNAL_NAMES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(SIGNAL, encoding="utf-8")
    (root / "Download/wa/WhatsApp Chat with Group 1.txt").parent.mkdir(parents=True)
    (root / "Download/wa/WhatsApp Chat with Group 1.txt").write_text(WHATSAPP, encoding="utf-8")

    res = ingest(case, root, IngestOptions("S1", kind="phone", workers=0))

    with case.session() as s:
        rows = {
            loc: (parser, status, error)
            for loc, parser, status, error in s.execute(
                select(
                    m.MessagingSource.locator,
                    m.MessagingSource.parser,
                    m.MessagingSource.status,
                    m.MessagingSource.error,
                )
            )
        }
        signal_ids = list(
            s.scalars(select(m.MessagingSource.id).where(m.MessagingSource.parser == "signal-export"))
        )
        signal_messages = s.scalar(
            select(func.count()).select_from(m.Message).where(m.Message.source_id.in_(signal_ids))
        )
        chats = list(s.scalars(select(m.Chat.title)))
        messages = s.scalar(select(func.count()).select_from(m.Message))
    for name in SIGNAL_NAMES:
        parser, status, error = rows[f"/{name}"]
        assert (parser, status) == ("signal-export", "not parsed"), (name, rows[f"/{name}"])
        assert error and "Signal Desktop chat export" in error and "not parsed" in error
    assert rows["/Download/wa/WhatsApp Chat with Group 1.txt"][:2] == ("whatsapp-export", "complete")
    assert signal_messages == 0 and len(signal_ids) == len(SIGNAL_NAMES)
    assert chats == ["Group 1"]  # only the WhatsApp export's chat
    assert messages == 2  # the WhatsApp export's two; none of the four Signal copies' three
    # Named, not failed: the run is not marked incomplete for it.
    assert incomplete_sources(case, "S1") == []
    assert {r.locator for r in res.messaging if r.status == "not parsed"} == {f"/{n}" for n in SIGNAL_NAMES}
