"""Hash-set formats under random and mutated input: a result or a named error, never a traceback.

Every registered format is fed (a) arbitrary bytes and (b) valid files of every format with random
mutations (bytes flipped, cut short, spliced, lines duplicated). ``open`` and iteration may only end
in entries or :class:`~tessera.records.FormatError` (with its position in the message); anything else
is a crash an examiner would see as a traceback (issue 12, part 7).
"""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.hashsets.base import FORMATS
from tessera.records import FormatError
from tessera.synth.hashsets import headed_csv, icse_csv, plain_list, random_entries, vics_media

ENTRIES = list(random_entries(6, seed=1))
SAMPLES = {
    "vics-1.3": vics_media(ENTRIES, version="1.3"),
    "vics-2.0": vics_media(ENTRIES, version="2.0", bom=False, upper=False),
    "icse": icse_csv(ENTRIES, bom=True),
    "list": plain_list([e for e in ENTRIES if e.get("md5")]),
    "csv": headed_csv(ENTRIES),
}
#: The algorithm each format is opened with where it must be told (a bare list of 64-hex digests).
OPTIONS = {"list": {"algorithm": "md5"}}


def _read(fmt_name: str, data: bytes) -> int:
    fmt = FORMATS.get(fmt_name)
    try:
        reader = fmt.open(io.BytesIO(data), **OPTIONS.get(fmt_name, {}))  # type: ignore[arg-type]
        return sum(1 for _ in reader)
    except FormatError as exc:
        assert str(exc), "a format error names what is wrong"
        return -1


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in ops:
        if not buf:
            break
        at = pos % len(buf)
        if kind == 0:
            buf[at] = value % 256  # flip a byte
        elif kind == 1:
            del buf[at:]  # cut short
        elif kind == 2:
            buf[at:at] = bytes([value % 256]) * (value % 7 + 1)  # insert
        elif kind == 3:
            end = buf.find(b"\n", at)
            if end > 0:
                buf[at:at] = buf[at : end + 1]  # duplicate a stretch up to a line end
        else:
            buf[at : at + 1] = "\u00e9\u202e\x00".encode()[value % 3 : value % 3 + 2]  # odd UTF-8 / NUL
    return bytes(buf)


MUTATIONS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SAMPLES)), st.sampled_from(["vics", "icse", "list", "csv"]), MUTATIONS)
def test_mutated_files_give_entries_or_a_named_error(
    sample: str, fmt: str, ops: list[tuple[int, int, int]]
) -> None:
    _read(fmt, _mutate(SAMPLES[sample], ops))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["vics", "icse", "list", "csv", "vpdq"]), st.binary(max_size=2048))
def test_random_bytes_give_entries_or_a_named_error(fmt: str, data: bytes) -> None:
    _read(fmt, data)


def test_the_unmutated_samples_read_whole() -> None:
    # One entry per hash value of each media item: at least one per item.
    for name in SAMPLES:
        assert _read(name.split("-")[0], SAMPLES[name]) >= len([e for e in ENTRIES if e.get("md5")]), name
