"""NSRL RDS v3 deltas: NIST's quarterly updates, read statement by statement.

A delta is not a database: it is SQL text, ``INSERT``, ``UPDATE`` and ``DELETE`` statements to be
run in the previous release, shipped as a zip beside the schema. Here a ``FILE``/``METADATA`` insert
adds a row of its SHA-256, a delete naming the row's SHA-256 removes it, statements on tables without
hashes (``PKG``, ``OS``, ``MFG``, ``VERSION``) are counted and passed over, and anything else on the
rows (an ``UPDATE`` of ``FILE``, a delete by package alone) is refused with its line, since a set of
hashes cannot answer it.
"""

from __future__ import annotations

import io
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera.hashsets.nsrl import FILE_COLUMNS
from tessera.records import FormatError

_DIGEST_BYTES = 32

#: Tables whose rows carry file hashes; statements on others are counted and passed over.
HASH_TABLES = frozenset({"FILE", "METADATA"})
_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "PRAGMA", "ANALYZE", "VACUUM", "SAVEPOINT"})
_TOKEN = re.compile(
    r"""(?P<ws>\s+|--[^\n]*|/\*.*?\*/)
      |(?P<blob>[xX]'[0-9A-Fa-f]*')
      |(?P<str>'(?:[^']|'')*')
      |(?P<qid>"(?:[^"]|"")*"|\[[^\]]*\]|`[^`]*`)
      |(?P<num>[-+]?\d+(?:\.\d+)?)
      |(?P<id>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<op>[(),;=*.])""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class DeltaOp:
    """``add``: one more row lists ``digest``; ``remove``: one row fewer; ``drop``: no row is left."""

    op: str
    digest: bytes
    where: str


@dataclass
class DeltaSummary:
    statements: int = 0
    adds: int = 0
    removes: int = 0
    drops: int = 0
    #: Statements on tables without hashes, by "VERB TABLE" (e.g. "INSERT PKG": 3).
    passed_over: dict[str, int] = field(default_factory=dict)


def _tokens(sql: str, where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:
            raise FormatError(f"unexpected character {sql[pos]!r} in SQL", where)
        kind = m.lastgroup or ""
        if kind != "ws":
            text = m.group()
            if kind == "qid":
                kind, text = "id", text[1:-1].replace('""', '"')
            elif kind == "str":
                text = text[1:-1].replace("''", "'")
            out.append((kind, text))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], where: str) -> None:
        self.toks = toks
        self.i = 0
        self.where = where

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def word(self) -> str:
        kind, text = self.next()
        if kind != "id":
            raise FormatError(f"expected a name, found {text!r}", self.where)
        return text.upper()

    def expect(self, text: str) -> None:
        kind, got = self.next()
        if got.upper() != text:
            raise FormatError(f"expected {text!r}, found {got!r}", self.where)

    def literal(self) -> str | int | None:
        kind, text = self.next()
        if kind == "str":
            return text
        if kind == "num":
            return int(text) if text.lstrip("+-").isdigit() else text
        if kind == "id" and text.upper() == "NULL":
            return None
        raise FormatError(f"expected a literal value, found {text!r}", self.where)

    def table(self) -> str:
        name = self.word()
        if self.peek()[1] == ".":  # schema-qualified: main.FILE
            self.next()
            name = self.word()
        return name


def _statements(lines: Iterator[str]) -> Iterator[tuple[int, str]]:
    buf: list[str] = []
    start = 0
    for number, line in enumerate(lines, 1):
        if not buf:
            if not line.strip() or line.lstrip().startswith("--"):
                continue
            start = number
        buf.append(line)
        # Only a line with a ';' can end a statement: checking every line would make a statement of
        # many lines (a long multi-row INSERT) cost the square of its length.
        if ";" in line and sqlite3.complete_statement(text := "".join(buf)):
            yield start, text
            buf = []
    if buf and "".join(buf).strip():
        raise FormatError("the last SQL statement is not terminated by ';'", f"line {start}")


def _delta_lines(path: Path) -> Iterator[str]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [
                n
                for n in zf.namelist()
                if n.lower().endswith(".sql") and not n.lower().endswith(".schema.sql")
            ]
            if len(names) != 1:
                raise FormatError(
                    f"the delta zip holds {len(names)} SQL files besides the schema; expected 1"
                )
            with zf.open(names[0]) as raw:
                yield from io.TextIOWrapper(raw, encoding="utf-8", newline="")
        return
    with path.open(encoding="utf-8", newline="") as fh:
        yield from fh


def read_delta(path: Path, summary: DeltaSummary | None = None) -> Iterator[DeltaOp]:
    """The row changes of an RDS v3 delta (SQL text, or the zip holding it), one statement at a time."""
    summary = summary if summary is not None else DeltaSummary()
    for line, sql in _statements(_delta_lines(path)):
        where = f"line {line}"
        summary.statements += 1
        toks = [t for t in _tokens(sql, where) if t != ("op", ";")]
        if not toks:
            continue
        p = _Parser(toks, where)
        verb = p.word()
        if verb in _CONTROL:
            _pass_over(summary, verb, "")
            continue
        if verb == "INSERT" or verb == "REPLACE":
            if p.peek()[1].upper() == "OR":
                p.next()
                p.word()
            p.expect("INTO")
            table = p.table()
            if table not in HASH_TABLES:
                _pass_over(summary, verb, table)
                continue
            for digest in _insert_digests(p, table):
                summary.adds += 1
                yield DeltaOp("add", digest, where)
        elif verb == "DELETE":
            p.expect("FROM")
            table = p.table()
            if table not in HASH_TABLES:
                _pass_over(summary, verb, table)
                continue
            op, digests = _delete_digests(p, table)
            for digest in digests:
                if op == "drop":
                    summary.drops += 1
                else:
                    summary.removes += 1
                yield DeltaOp(op, digest, where)
        elif verb in ("UPDATE", "CREATE", "DROP", "ALTER"):
            target = p.table() if verb == "UPDATE" else _ddl_target(p)
            if target in HASH_TABLES:
                raise FormatError(
                    f"{verb} on {target} changes rows a set of hashes cannot follow; apply this delta to"
                    " the previous full RDS database with sqlite3 and import the result",
                    where,
                )
            _pass_over(summary, verb, target)
        else:
            raise FormatError(f"unsupported SQL statement {verb}", where)


def _ddl_target(p: _Parser) -> str:
    while p.peek()[0] == "id" and p.peek()[1].upper() in ("TABLE", "VIEW", "INDEX", "IF", "NOT", "EXISTS"):
        p.next()
    return p.table() if p.peek()[0] == "id" else "?"


def _pass_over(summary: DeltaSummary, verb: str, table: str) -> None:
    key = f"{verb} {table}" if table else verb
    summary.passed_over[key] = summary.passed_over.get(key, 0) + 1


def _insert_digests(p: _Parser, table: str) -> Iterator[bytes]:
    columns: list[str] | None = None
    if p.peek()[1] == "(":
        p.next()
        columns = []
        while True:
            columns.append(p.word().lower())
            if p.next()[1] == ")":
                break
    if columns is None:
        if table != "FILE":
            raise FormatError(
                f"INSERT INTO {table} without a column list: the column order is unknown", p.where
            )
        columns = list(FILE_COLUMNS)
    if "sha256" not in columns:
        raise FormatError(f"INSERT INTO {table} gives no sha256", p.where)
    at = columns.index("sha256")
    p.expect("VALUES")
    while True:
        p.expect("(")
        values: list[Any] = []
        while True:
            values.append(p.literal())
            if p.next()[1] == ")":
                break
        if len(values) != len(columns):
            raise FormatError(f"{len(values)} values for {len(columns)} columns", p.where)
        yield _delta_digest(values[at], p.where)
        if p.peek()[1] != ",":
            break
        p.next()
    if p.peek()[0] != "eof":
        raise FormatError(f"unsupported INSERT clause {p.peek()[1]!r}", p.where)


def _delete_digests(p: _Parser, table: str) -> tuple[str, list[bytes]]:
    if p.peek()[0] == "eof":
        raise FormatError(f"DELETE FROM {table} without WHERE would empty the set", p.where)
    p.expect("WHERE")
    conds: dict[str, list[Any]] = {}
    while True:
        col = p.word().lower()
        kind, text = p.next()
        if text == "=":
            conds.setdefault(col, []).append(p.literal())
        elif text.upper() == "IN":
            p.expect("(")
            vals = []
            while True:
                vals.append(p.literal())
                if p.next()[1] == ")":
                    break
            conds.setdefault(col, []).extend(vals)
        else:
            raise FormatError(f"unsupported condition on {col}: {text!r} (only = and IN)", p.where)
        if p.peek()[0] == "eof":
            break
        if p.word() != "AND":
            raise FormatError("only conditions joined by AND are understood", p.where)
    if "sha256" not in conds:
        raise FormatError(
            f"DELETE FROM {table} without a sha256 condition ({', '.join(sorted(conds))}): a set of hashes"
            " cannot tell which rows that removes; apply the delta to the full RDS database and import it",
            p.where,
        )
    digests = [_delta_digest(v, p.where) for v in conds["sha256"]]
    # A row key (package, name) deletes one row; the hash alone deletes every row that lists it.
    return ("remove" if set(conds) - {"sha256", "sha1", "md5", "crc32"} else "drop"), digests


def _delta_digest(value: Any, where: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != _DIGEST_BYTES:
        raise FormatError(f"sha256 {value!r} is not 64 hex digits", where)
    return raw
