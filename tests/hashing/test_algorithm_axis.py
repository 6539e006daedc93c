"""The hash-algorithm axis: definitions own values, limits, bit forms, indexes and column names.

The scan tests are the acceptance point "no module outside the algorithm definitions names the PDQ
threshold or quality limit" (issue 15): they read the source with ``ast``, so prose in docstrings and
comments may still say "31 by default" while code may not write the number.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tessera.hashing.algorithms import (
    ALGORITHMS,
    PDQ_MATCH_DISTANCE,
    PDQ_MIN_QUALITY,
    column_names,
    exact_names,
    hex_names,
    pdq_hex_to_array,
    pdq_hex_to_bytes,
)
from tessera.ingest.importer import import_hashset
from tessera.matching.exact import ExactIndex
from tessera.matching.pdq import PdqIndex, hex_to_rows
from tessera.matching.video import VideoIndex
from tessera.store import models as m
from tessera.store.case import CaseHandle

PACKAGE = Path(__file__).resolve().parents[2] / "tessera"
DEFINITIONS = PACKAGE / "hashing" / "algorithms.py"
LIMITS = frozenset({PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY})

#: (module, where) -> why the number there is not the PDQ threshold or quality limit. ``where`` is the
#: enclosing function/class, or the module-level name assigned. Exponents of ``2 ** 31`` (int32 bounds)
#: are recognised by shape and need no entry.
ALLOWED: dict[tuple[str, str], str] = {
    ("evidence/compressed.py", "peek_decompressed"): "zlib wbits 31 = 16 + 15: a gzip header",
    ("evidence/compressed.py", "_decompressor"): "zlib wbits 31 = 16 + 15: a gzip header",
    ("evidence/walk.py", "_by_priority"): "default plugin priority (documented in evidence/base.py)",
    ("evidence/zip.py", "_recover"): "0x1F masks the day and the seconds of a DOS date/time",
    ("hub/service.py", "Policy"): "refusal_burst: refused requests allowed per address before 429",
    ("messaging/whatsapp_export.py", "HEAD_LINES"): "lines read to sniff an export",
    ("messaging/whatsapp_export_patterns.py", "persian_to_gregorian"): "Persian months of 31 days",
    ("store/migrations/versions/0001_initial_triage_schema.py", "upgrade"): "agency name column width",
    ("store/models.py", "Case"): "agency name column width",
    ("synth/chatstorage.py", "write_chatstorage"): "every 50th message is a link preview",
    ("synth/hashsets.py", "random_entries"): "50 invented series names",
    ("synth/hashsets.py", "_full_object"): "50 invented series names",
    ("synth/msgstore.py", "write_big_msgstore"): "default number of groups in a generated database",
    ("synth/wa_export_locales.py", "_persian"): "Persian months of 31 days",
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != DEFINITIONS:
            yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _limit_literals(tree: ast.Module) -> Iterator[tuple[str, int, int]]:
    """(where, line, value) of each literal 31 or 50 in code (docstrings are strings: never seen)."""

    def visit(node: ast.AST, where: list[str]) -> Iterator[tuple[str, int, int]]:
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Pow)
            and isinstance(node.left, ast.Constant)
            and node.left.value == 2
        ):
            return  # 2 ** 31: an int32 bound, not a hash limit
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value in LIMITS:
            yield ".".join(where) or "<module>", node.lineno, node.value
        scope = where
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope = [*where, node.name]
        elif isinstance(node, ast.Assign | ast.AnnAssign) and not where:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            scope = [t.id for t in targets if isinstance(t, ast.Name)][:1]
        for child in ast.iter_child_nodes(node):
            yield from visit(child, scope)

    yield from visit(tree, [])


def test_no_module_outside_the_definitions_names_the_pdq_limits() -> None:
    found = [
        f"tessera/{module}:{line} ({where}) writes {value}"
        for module, tree in _modules()
        for where, line, value in _limit_literals(tree)
        if (module, where) not in ALLOWED
    ]
    assert not found, "ask tessera.hashing.algorithms instead:\n" + "\n".join(found)


def test_allow_list_has_no_stale_entries() -> None:
    used = {(module, where) for module, tree in _modules() for where, _, _ in _limit_literals(tree)}
    assert set(ALLOWED) <= used, f"entries no longer needed: {sorted(set(ALLOWED) - used)}"


def _algorithm_tuples(tree: ast.Module) -> Iterator[tuple[int, str]]:
    names = set(ALGORITHMS.names())
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign | ast.AnnAssign) or stmt.value is None:
            continue
        for node in ast.walk(stmt.value):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                items: list[ast.expr | None] = list(node.elts)
            elif isinstance(node, ast.Dict):
                items = list(node.keys)
            else:
                continue
            strings = [e.value for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            # Two algorithm names and nothing else written out: a list the axis should answer.
            if len(strings) >= 2 and len(strings) == len(items) and set(strings) <= names:
                yield stmt.lineno, ast.unparse(node)[:80]


def test_no_module_level_lists_of_algorithm_names_outside_the_definitions() -> None:
    found = [
        f"tessera/{module}:{line} {text}"
        for module, tree in _modules()
        for line, text in _algorithm_tuples(tree)
    ]
    assert not found, "ask tessera.hashing.algorithms instead:\n" + "\n".join(found)


def test_the_scans_see_what_they_look_for() -> None:
    code = 'X = 2 ** 31\nY = ("md5", "sha1")\ndef f(q=50):\n    """31 bits by default."""\n    return q\n'
    tree = ast.parse(code)
    assert [(w, v) for w, _, v in _limit_literals(tree)] == [("f", 50)]
    assert [line for line, _ in _algorithm_tuples(tree)] == [2]


# --- what each definition owns ---------------------------------------------------------------------


def test_lists_asked_of_the_axis() -> None:
    assert exact_names() == ("md5", "sha1", "sha256")
    assert hex_names() == ("md5", "sha1", "sha256", "pdq")
    vics = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "pdq": "PDQ", "photodna": "PhotoDNA"}
    assert list(column_names("vics").items()) == list(vics.items())
    assert column_names("icse") == {"md5": "MD5", "sha1": "SHA1", "photodna": "PhotoDNA"}
    assert column_names("csv") == {a: a for a in ("md5", "sha1", "sha256", "pdq", "photodna")}
    assert column_names("case_uco") == {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256"}
    assert {a: ALGORITHMS.get(a).byte_length for a in exact_names()} == {"md5": 16, "sha1": 20, "sha256": 32}
    pdq = ALGORITHMS.get("pdq")
    assert (pdq.default_threshold, pdq.min_quality) == (31, 50)
    vpdq = ALGORITHMS.get("vpdq")
    assert (vpdq.default_threshold, vpdq.min_quality) == (31, 50)
    assert all(ALGORITHMS.get(a).min_quality == 0 for a in exact_names())


@pytest.mark.parametrize("name", ["md5", "sha1", "sha256", "pdq", "vpdq"])
def test_hex_values_round_trip_to_canonical_lower_hex(name: str) -> None:
    alg = ALGORITHMS.get(name)
    assert alg.hex_length is not None
    value = "".join(random.Random(name).choice("0123456789abcdef") for _ in range(alg.hex_length))
    for written in (value, value.upper(), f"  {value}\n", value[:8].upper() + value[8:]):
        assert alg.normalise(written) == value
    assert alg.normalise(alg.normalise(value)) == value
    with pytest.raises(ValueError, match=name):
        alg.normalise(value[:-1])
    with pytest.raises(ValueError, match=name):
        alg.normalise("g" + value[1:])


def test_photodna_is_kept_as_given() -> None:
    photodna = ALGORITHMS.get("photodna")
    assert photodna.hex_length is None and photodna.matching == "none"
    assert photodna.normalise("  AbC+/=\n") == "AbC+/="
    with pytest.raises(ValueError, match="photodna"):
        photodna.normalise("   ")
    with pytest.raises(LookupError):
        photodna.index_class()
    with pytest.raises(ValueError, match="opaque"):
        photodna.to_bits(["AbC"])


def test_index_classes() -> None:
    assert {n: ALGORITHMS.get(n).index_class() for n in ALGORITHMS.names() if n != "photodna"} == {
        "md5": ExactIndex,
        "sha1": ExactIndex,
        "sha256": ExactIndex,
        "pdq": PdqIndex,
        "vpdq": VideoIndex,
    }
    with pytest.raises(ValueError, match="exactly"):
        ExactIndex("pdq")


def _old_hex_to_rows(hexes: list[str]) -> np.ndarray:
    # tessera.matching.pdq.hex_to_rows and ingest.matcher._pdq_rows before the axis owned the conversion.
    return np.frombuffer(b"".join(bytes.fromhex(h) for h in hexes), dtype=np.uint8).reshape(-1, 32)


def test_pdq_bits_agree_with_the_old_conversions(pdq_dir: Path) -> None:
    hexes = [line.strip() for line in (pdq_dir / "haystack.txt").read_text().splitlines() if line.strip()]
    bits = ALGORITHMS.get("pdq").to_bits(hexes)
    assert bits.shape == (len(hexes), 32) and bits.dtype == np.uint8 and bits.flags.writeable
    assert np.array_equal(bits, _old_hex_to_rows(hexes))
    assert np.array_equal(bits, hex_to_rows(hexes))
    assert np.array_equal(bits, pdq_hex_to_array(hexes))
    assert all(bits[i].tobytes() == pdq_hex_to_bytes(h) for i, h in enumerate(hexes))
    # The uint64x4 view some indexes use reads the same bits.
    words = bits.view(">u8")
    assert words.shape == (len(hexes), 4) and f"{int(words[0, 0]):016x}" == hexes[0][:16]
    assert ALGORITHMS.get("pdq").to_bits([]).shape == (0, 32)


def test_pdq_bits_refuse_a_wrong_length_naming_its_position() -> None:
    # The old conversion only checked the total length, so 62 + 66 digits passed as two hashes.
    with pytest.raises(ValueError, match="value 2 is 62 hex digits, not 64"):
        ALGORITHMS.get("pdq").to_bits(["0" * 64, "0" * 62, "0" * 66])
    with pytest.raises(ValueError, match="value 3 is not hex"):
        ALGORITHMS.get("pdq").to_bits(iter(["0" * 64, "1" * 64, "x" * 64]))


# --- a hash set's own threshold still overrides the default (SQLite and PostgreSQL) ---------------


def _flip(hex_value: str, bits: int) -> str:
    return f"{int(hex_value, 16) ^ ((1 << bits) - 1):064x}"


def _media(sha_seed: int, pdq: str, quality: int) -> m.Media:
    rnd = random.Random(sha_seed)
    return m.Media(
        sha256=f"{rnd.getrandbits(256):064x}",
        md5=f"{rnd.getrandbits(128):032x}",
        sha1=f"{rnd.getrandbits(160):040x}",
        size=1,
        kind="image",
        pdq=pdq,
        pdq_quality=quality,
    )


def test_per_set_threshold_overrides_the_default(case: CaseHandle, tmp_path: Path) -> None:
    reference = f"{random.Random(1).getrandbits(256):064x}"
    near, far, poor = (
        _media(2, _flip(reference, 20), 90),
        _media(3, _flip(reference, 35), 90),
        _media(4, reference, 40),
    )
    with case.session() as s:
        s.add_all([near, far, poor])
        s.commit()
        shas = {near.sha256: "near", far.sha256: "far", poor.sha256: "poor"}
    listing = tmp_path / "ref.txt"
    listing.write_text(reference + "\n")
    sets = {"default": None, "strict": 10, "loose": 40}
    for name, threshold in sets.items():
        import_hashset(case, listing, name=name, fmt="list", algorithm="pdq", pdq_threshold=threshold)
    with case.session() as s:
        rows = s.execute(
            select(m.Match.sha256, m.HashSet.name, m.Match.distance).join(
                m.HashSet, m.Match.hashset_id == m.HashSet.id
            )
        ).all()
    got = sorted((shas[sha], name, dist) for sha, name, dist in rows)
    # The default set matches within PDQ's 31 bits, "strict" within its own 10, "loose" within 40; the
    # below-quality copy matches nothing even at distance 0.
    assert got == [("far", "loose", 35), ("near", "default", 20), ("near", "loose", 20)]
