import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.messaging.coverage import EXAMPLES, Coverage


def test_complete_when_every_row_is_parsed_or_not_evidence() -> None:
    cov = Coverage()
    cov.holds("messages", 75)
    cov.ignore("messages", "WhatsApp sentinel row", "db#messages/1")
    cov.parsed("messages", 74)
    assert cov.status() == "complete" and cov.problem() is None
    assert cov.summary() == "messages 74/75 (1 ignored: WhatsApp sentinel row)"


def test_unexplained_rows_make_a_source_partial() -> None:
    cov = Coverage()
    cov.holds("message", 10)
    cov.parsed("message", 7)
    assert cov.status() == "partial"
    assert cov.problem() == "message: 3 of 10 not accounted for"


def test_more_parsed_than_held_is_reported_too() -> None:
    cov = Coverage()
    cov.holds("lines", 2)
    cov.parsed("lines", 3)
    assert cov.status() == "partial" and "1 more parsed than the source holds" in (cov.problem() or "")


def test_content_and_nothing_parsed_is_failed() -> None:
    cov = Coverage()
    cov.holds("lines", 4)
    cov.ignore("lines", "blank", n=1)
    cov.skip("lines", "unknown layout", "f#L1", n=3)
    assert cov.status() == "failed" and cov.problem() == "3 lines skipped: unknown layout"


def test_an_empty_source_is_complete() -> None:
    cov = Coverage()
    cov.holds("messages", 0)
    assert cov.status() == "complete"


def test_examples_are_bounded() -> None:
    cov = Coverage()
    for n in range(100):
        cov.skip("lines", "bad date", f"f#L{n}")
    (r,) = cov.reasons.values()
    assert r.count == 100 and len(r.examples) == EXAMPLES


@given(
    st.dictionaries(
        st.sampled_from(["messages", "message", "lines", "chats"]),
        st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.integers(0, 5)),
        max_size=4,
    )
)
def test_json_round_trip_keeps_status_and_counts(units: dict[str, tuple[int, int, int, int]]) -> None:
    cov = Coverage()
    for name, (parsed, ignored, skipped, extra) in units.items():
        cov.holds(name, parsed + ignored + skipped + extra)
        cov.parsed(name, parsed)
        if ignored:
            cov.ignore(name, "placeholder", f"x#{name}", n=ignored)
        if skipped:
            cov.skip(name, "unreadable", f"x#{name}", n=skipped)
    cov.note("schema: legacy")
    back = Coverage.from_json(cov.to_json())
    assert back.to_json() == cov.to_json()
    assert back.status() == cov.status() and back.summary() == cov.summary()


def test_unknown_format_versions_are_refused() -> None:
    with pytest.raises(ValueError):
        Coverage.from_json({"format": "tessera-coverage", "version": 99})
