"""WhatsApp exports in the world's locales and calendars, against generated ground truth
(``tessera.synth.wa_export.render_quirk``), plus coverage, owner, detection and failure rules.

All names and numbers are invented.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.messaging.base import ParseContext
from tessera.messaging.coverage import COMPLETE, FAILED, PARTIAL
from tessera.messaging.records import AccountRecord, ChatRecord, MessageRecord, ParseError
from tessera.messaging.whatsapp_export import WhatsAppExportParser
from tessera.records import Opener
from tessera.synth.wa_export_locales import OWNER, QUIRKS, render_quirk

PARSER = WhatsAppExportParser()


def run(
    text: str | bytes, locator: str = "/x/WhatsApp Chat with G.txt", **kw: Any
) -> tuple[list[Any], ParseContext]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    ctx = ParseContext(locator, Opener(data=data), Path("/nonexistent"), **kw)
    return list(PARSER.parse(ctx)), ctx


def messages(records: list[Any]) -> list[MessageRecord]:
    return [r for r in records if isinstance(r, MessageRecord)]


@pytest.mark.parametrize("tz", [UTC, ZoneInfo("Asia/Bangkok"), ZoneInfo("America/Sao_Paulo")], ids=str)
@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_each_locale_and_calendar_matches_ground_truth(quirk: str, tz: Any) -> None:
    ex = render_quirk(quirk, tz)
    locator = f"/ev/{ex.name}"
    assert PARSER.detect(locator, ex.text.encode()[:8192])
    records, ctx = run(ex.text, locator, local_tz=tz, options=ex.options)
    got = messages(records)
    assert len(got) == len(ex.expected)
    for msg, exp in zip(got, ex.expected, strict=True):
        assert msg.locator == f"{locator}#L{exp.line_no}"
        assert msg.time == exp.time, (quirk, msg.raw.get("stamp"))
        assert (msg.kind, msg.action, msg.sender) == (exp.kind, exp.action, exp.sender), msg.text
        if exp.kind == "text":
            assert msg.text == exp.text
    renamed = next(m for m in got if m.action == "renamed")
    assert (renamed.raw["old_title"], renamed.raw["title"]) == ("Grupo 1", "Grupo 2")
    owner = [r for r in records if isinstance(r, AccountRecord) and r.is_device_owner]
    assert [o.raw_id for o in owner] == [OWNER]
    assert all(
        r.raw_id not in {"You", "Tú", "Bạn", "أنت", "Du", "Vous", "Jij", "Você"}
        for r in records
        if isinstance(r, AccountRecord)
    )
    added = next(m for m in got if m.action == "added")
    assert added.targets == [OWNER] and added.raw["exporter_targeted"]
    cov = ctx.coverage
    lines = cov.units["lines"]
    assert lines.present == ex.lines == lines.parsed + lines.ignored + lines.skipped
    assert lines.skipped == ex.skipped_lines
    assert cov.units["messages"].parsed == len(ex.expected)
    assert cov.status() == (PARTIAL if ex.skipped_lines else COMPLETE), cov.summary()


def test_calendars_are_noted() -> None:
    for quirk, note in [
        ("th-buddhist", "calendar: buddhist (file)"),
        ("th-buddhist-short", "calendar: buddhist (inferred)"),
        ("ja-era", "calendar: japanese (file)"),
        ("ja-era-plain", "calendar: japanese (option)"),
        ("fa-solar", "calendar: persian (file)"),
    ]:
        ex = render_quirk(quirk)
        _, ctx = run(ex.text, f"/{ex.name}", options=ex.options)
        assert note in ctx.coverage.notes


def test_era_years_without_the_option_are_read_as_written_and_flagged() -> None:
    ex = render_quirk("ja-era-plain")
    records, ctx = run(
        ex.text, f"/{ex.name}"
    )  # no calendar option: 05/12/14 is not a Gregorian year-first date
    assert any("calendar=japanese" in n for n in ctx.coverage.notes)
    assert messages(records)[0].raw["stamp"].startswith("05/12/14")


def test_unreadable_date_is_skipped_not_merged() -> None:
    ex = render_quirk("unreadable")
    records, ctx = run(ex.text)
    texts = [m.text or "" for m in messages(records)]
    assert not any("cannot exist" in t or "its second line" in t for t in texts)
    skipped = {
        r.reason: r.examples
        for r in ctx.coverage.reasons.values()
        if r.unit == "lines" and r.kind == "skipped"
    }
    assert skipped == {
        "dated line whose date or time cannot be read": ["/x/WhatsApp Chat with G.txt#L4"],
        "continuation of a line skipped": ["/x/WhatsApp Chat with G.txt#L5"],
    }
    assert ctx.coverage.units["messages"].skipped == 1
    assert ctx.coverage.status() == PARTIAL


def test_native_digits_keep_raw_stamp() -> None:
    ex = render_quirk("ar")
    records, _ = run(ex.text)
    first = messages(records)[0]
    assert first.raw["stamp"].startswith("١٤")  # the date as written, Arabic-Indic digits


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2022/12/14, 13:34. - A: x", datetime(2022, 12, 14, 13, 34)),
        ("14/12/2023 10:30 vorm. - A: x", datetime(2023, 12, 14, 10, 30)),
        ("14/12/2023, 12:05 a.m. - A: x", datetime(2023, 12, 14, 0, 5)),
        ("14/12/2023, 00:08 a. m. - A: x", datetime(2023, 12, 14, 0, 8)),
        ("13:34, 14/12/2023 - A: x", datetime(2023, 12, 14, 13, 34)),
        ("[14.12.2023 klo 13.34.05] A: x", datetime(2023, 12, 14, 13, 34, 5)),
        ("[3/18/R4, 10:00:00] A: x", datetime(2022, 3, 18, 10, 0)),
        ("[H30/03/18 10:00:00] A: x", datetime(2018, 3, 18, 10, 0)),
        ("令和元年5月1日 10:00 - A: x", datetime(2019, 5, 1, 10, 0)),
        ("[3/18/2565 BE, 10:00:00 PM] A: x", datetime(2022, 3, 18, 22, 0)),
        ("١٤/١٢/٢٠٢٣ ١٠:٣٠ ص - A: x", datetime(2023, 12, 14, 10, 30)),
        ("2023/12/14 午前10:30 - A: x", datetime(2023, 12, 14, 10, 30)),
    ],
)
def test_header_variants(line: str, expected: datetime) -> None:
    records, ctx = run(line + "\n")
    (msg,) = messages(records)
    assert msg.time == expected.replace(tzinfo=UTC) and msg.sender == "A" and msg.text == "x"
    assert ctx.coverage.status() == COMPLETE


def test_owner_option_is_normalised_to_a_jid() -> None:
    text = '01/03/2024, 10:00 - You created group "G"\n13/03/2024, 10:01 - Ana: hi\n'
    records, _ = run(text, options={"owner": "+00 555 0100 999"})
    (owner,) = [r for r in records if isinstance(r, AccountRecord) and r.is_device_owner]
    assert owner.raw_id == "005550100999@s.whatsapp.net"
    chat = next(r for r in records if isinstance(r, ChatRecord))
    assert chat.creator == owner.raw_id
    _, ctx2 = run(text, device_id="P-07")
    records2, _ = run(text, device_id="P-07")
    assert any(isinstance(r, AccountRecord) and r.raw_id == "whatsapp:owner@P-07" for r in records2)


def test_lines_before_first_message_and_blank_lines_are_accounted() -> None:
    text = "preamble\n\n01/03/2024, 10:00 - A: one\n\nstill one\n\n\n13/03/2024, 10:01 - B: two\n\n"
    records, ctx = run(text)
    one, two = messages(records)
    assert one.text == "one\n\nstill one" and two.text == "two"
    lines = ctx.coverage.units["lines"]
    assert (lines.present, lines.parsed, lines.ignored, lines.skipped) == (9, 4, 4, 1)
    assert ctx.coverage.status() == PARTIAL  # the preamble is text that belongs to no message


def test_unknown_layout_is_claimed_and_failed() -> None:
    text = "2024-03-01 10:00 | Ana: hello\n2024-03-01 10:05 | Luis: hi\n\n2024-03-02 11:00 | Ana: bye\n"
    locator = "/ev/WhatsApp Chat with G.txt"
    assert PARSER.detect(locator, text.encode())
    assert PARSER.detect("/ev/export.txt", text.encode())
    records, ctx = run(text, locator)
    assert records == []
    assert ctx.coverage.status() == FAILED
    (reason,) = [r for r in ctx.coverage.reasons.values() if r.kind == "skipped"]
    assert reason.reason.startswith("unknown layout: ") and reason.count == 3
    assert ctx.coverage.units["lines"].unaccounted() == 0


def test_every_date_unreadable_is_failed_not_an_error() -> None:
    records, ctx = run("31/31/2024, 10:00 - A: x\n")
    assert records == [] and ctx.coverage.status() == FAILED


@pytest.mark.parametrize(
    "text",
    [
        "# Project\n\nSome notes about the release.\nRun `make` to build.\n",
        "Shopping list\n- milk 2.5 l\n- bread\n",
        "Meeting 10:30 tomorrow\nroom 4.12\n",
        "2024-03-01 10:00:01 INFO server: started\n2024-03-01 10:00:02 WARN db: slow\n",
        "Changelog\n2024-03-01 10:00 released 1.2\n2024-03-05 09:00 released 1.3\n",
    ],
)
def test_readme_or_random_text_is_not_claimed(text: str) -> None:
    assert not PARSER.detect("/docs/README.txt", text.encode())
    with pytest.raises(ParseError, match="not a WhatsApp chat export"):
        run(text, "/docs/README.txt")


SIGNAL = (
    "[2019-12-24, 12:23] Jane Doe: Merry Christmas\n"
    "[2019-12-24, 12:25] Me: Same to you\n"
    "[2019-12-24, 12:26] Jane Doe: ![photo.jpg](./media/photo.jpg)  \n"
)


def test_signal_desktop_export_is_not_whatsapp() -> None:
    assert not PARSER.detect("/home/u/Jane Doe/chat.txt", SIGNAL.encode())
    assert not PARSER.detect(
        "/home/u/Jane Doe/chat.txt", SIGNAL.replace(", 12", " 12").encode().replace(b":23]", b":23:00]")
    )
    with pytest.raises(ParseError, match="Signal"):
        run(SIGNAL, "/home/u/Jane Doe/chat.txt")
    # WhatsApp itself with an ISO date (Swedish iOS) is still WhatsApp.
    assert PARSER.detect("/x/_x.txt", b"[2019-12-24 12:23:05] Jane Doe: hej\n")


@settings(max_examples=60, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(2009, 1, 1), max_value=datetime(2030, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    style=st.sampled_from(["android", "ios"]),
    twelve=st.booleans(),
    digits=st.sampled_from(["", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"]),
)
def test_any_time_round_trips(when: datetime, style: str, twelve: bool, digits: str) -> None:
    day = f"{when.day:02d}/{when.month:02d}/{when.year}"
    if twelve:
        clock = f"{when.hour % 12 or 12}:{when:%M:%S} {'PM' if when.hour >= 12 else 'AM'}"
    else:
        clock = f"{when:%H:%M:%S}"
    stamp = f"{day}, {clock}"
    if digits:
        stamp = stamp.translate(str.maketrans("0123456789", digits))
    # A second line with day 25 settles the order (day first) whatever ``when`` is.
    anchor = "25/01/2020, 10:00:00"
    text = f"[{stamp}] A: x\n[{anchor}] B: y\n" if style == "ios" else f"{stamp} - A: x\n{anchor} - B: y\n"
    records, ctx = run(text)
    first = messages(records)[0]
    assert first.time == when.replace(tzinfo=UTC)
    assert ctx.coverage.status() == COMPLETE


def test_hijri_years_are_skipped_with_a_note() -> None:
    records, ctx = run("1445/06/01, 10:00 - A: x\n1445/06/02, 10:00 - B: y\n")
    assert records == [] and ctx.coverage.status() == FAILED
    assert any("Hijri" in n for n in ctx.coverage.notes)
