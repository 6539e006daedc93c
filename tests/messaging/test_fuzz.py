"""Messaging parsers under mutated input: records or a named ParseError, never a traceback.

Valid sources of each parser (a WhatsApp export of every style, a Telegram ``result.json`` of every
era, a ``msgstore.db`` of both schemas) are mutated at random (bytes flipped, cut short, spliced,
stretches duplicated) and parsed to the end. A parse may end in records (with its reconciliation
adding up or naming what it skipped) or :class:`ParseError`; any other exception is a crash an
examiner would see (issue 12, part 7). The pipeline also stores such a crash as a failed source, but a
parser must not rely on that.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.messaging import PARSERS, ParseContext
from tessera.messaging.records import ParseError
from tessera.records import Opener
from tessera.synth.msgstore import write_msgstore
from tessera.synth.network import make_network
from tessera.synth.telegram import write_telegram_export
from tessera.synth.wa_export import write_export
from tests.hashsets.test_fuzz import MUTATIONS, _mutate

NET = make_network(3)


def _samples() -> dict[str, tuple[str, str, bytes]]:
    """name -> (parser, locator, bytes) of small valid sources."""
    out: dict[str, tuple[str, str, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        capture = next(s for s in NET.seizures if s.format.startswith("wa-export"))
        for style in ("android", "ios"):
            path = write_export(NET, capture, root / style, style=style, as_zip=False, include_media=False)
            out[f"export-{style}"] = ("whatsapp-export", f"/{path.name}", path.read_bytes())
        tg = next((s for s in NET.seizures if s.format.startswith("telegram")), NET.seizures[0])
        for era in ("current", "2019"):
            path = write_telegram_export(NET, tg, root / f"tg-{era}", include_media=False, era=era)
            out[f"telegram-{era}"] = ("telegram-export", "/result.json", path.read_bytes())
        phone = NET.seizures[0]
        for schema in ("current", "legacy"):
            db = root / f"{schema}.db"
            write_msgstore(NET, phone, db, schema=schema)
            out[f"msgstore-{schema}"] = ("whatsapp-msgstore", "/msgstore.db", db.read_bytes())
    return out


SAMPLES = _samples()


def _parse(parser: str, locator: str, data: bytes, scratch: Path) -> int:
    ctx = ParseContext(locator=locator, opener=Opener(data=data), scratch=scratch)
    try:
        n = sum(1 for _ in PARSERS.get(parser).parse(ctx))
    except ParseError as exc:
        assert str(exc)
        return -1
    # Whatever was read, the reconciliation says so: never "complete" with rows nobody explained.
    if ctx.coverage.status() == "complete":
        assert not ctx.coverage.unaccounted()
    return n


def test_the_samples_parse() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, (parser, loc, data) in SAMPLES.items():
            assert _parse(parser, loc, data, Path(tmp)) > 0, name


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SAMPLES)), MUTATIONS)
def test_mutated_sources_give_records_or_a_parse_error(name: str, ops: list[tuple[int, int, int]]) -> None:
    parser, loc, data = SAMPLES[name]
    with tempfile.TemporaryDirectory() as tmp:
        _parse(parser, loc, _mutate(data, ops), Path(tmp))
