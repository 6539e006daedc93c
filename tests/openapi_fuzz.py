"""Requests generated from an app's OpenAPI description (Hypothesis), for the hub and the workstation.

Every operation the description lists is fuzzed: its path and query parameters drawn from their
schemas (valid values, boundary values just outside, and hostile text: NUL, lone surrogates, invalid
UTF-8, 2^64, NaN), and its body drawn from the request schema (JSON or a form) or as random JSON and
raw bytes. Why Hypothesis directly and not Schemathesis: the apps run in-process through Starlette's
TestClient against the real databases, and the hostile values we need (invalid UTF-8 in a path, NaN
in JSON) are outside what a schema-conforming generator produces.

``FUZZ_EXAMPLES`` (environment ``TESSERA_FUZZ_EXAMPLES``) is the number of requests per operation and
database: 120 in the suite; the issue's acceptance run used 2,000 (see the closing note).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

FUZZ_EXAMPLES = int(os.environ.get("TESSERA_FUZZ_EXAMPLES", "120"))

WEIRD_TEXT = st.text(max_size=40) | st.sampled_from(
    ["\x00", "\ud800", "a\udc00b", "ab" * 32, "AB" * 32 + "\x00", "", " ", "../../etc/passwd", "%00"]
)
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([2**63, 2**63 - 1, 2**64, -(2**63) - 1, 0, 1, -1, 99])
)
SCALARS = st.none() | st.booleans() | NUMBERS | WEIRD_TEXT
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(WEIRD_TEXT, inner, max_size=4),
    max_leaves=12,
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, e.g. /v1/entries/{sha256}
    path_params: tuple[tuple[str, dict[str, Any]], ...] = ()
    query_params: tuple[tuple[str, dict[str, Any]], ...] = ()
    #: content type -> schema (resolved) of the request body; empty: none declared
    body: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _resolve(spec: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    if depth > 8:
        return {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(spec, spec["components"]["schemas"][name], depth + 1)
    out = dict(schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in out:
            out[key] = [_resolve(spec, s, depth + 1) for s in out[key]]
    if "properties" in out:
        out["properties"] = {k: _resolve(spec, v, depth + 1) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _resolve(spec, out["items"], depth + 1)
    return out


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation in an OpenAPI description, schemas resolved."""
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = op.get("parameters", [])
            body = {
                ctype: _resolve(spec, c.get("schema", {}))
                for ctype, c in op.get("requestBody", {}).get("content", {}).items()
            }
            ops.append(
                Operation(
                    method.upper(),
                    path,
                    tuple(
                        (p["name"], _resolve(spec, p.get("schema", {}))) for p in params if p["in"] == "path"
                    ),
                    tuple(
                        (p["name"], _resolve(spec, p.get("schema", {}))) for p in params if p["in"] == "query"
                    ),
                    body,
                )
            )
    return ops


def from_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of a schema, with its edges and hostile values mixed in (never only valid ones)."""
    if depth > 4:
        return SCALARS
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, depth + 1) for s in schema[key]] + [SCALARS])
    kind = schema.get("type")
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        edges = [v for v in (lo, hi) if v is not None]
        edges += [v + d for v in edges for d in (-1, 1)]
        valid = st.integers(min_value=lo, max_value=hi)
        return valid | st.sampled_from(edges or [0]) | NUMBERS
    if kind == "number":
        return st.floats(allow_nan=True, allow_infinity=True) | NUMBERS
    if kind == "boolean":
        return st.booleans() | WEIRD_TEXT
    if kind == "string":
        n = schema.get("maxLength")
        sized = [st.text(min_size=n, max_size=n + 2)] if n else []
        enum = [st.sampled_from(schema["enum"])] if schema.get("enum") else []
        return st.one_of(
            [WEIRD_TEXT, st.text(alphabet="0123456789abcdef", min_size=0, max_size=70), *sized, *enum]
        )
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=4) | SCALARS
    if kind == "object" or "properties" in schema:
        props = {k: from_schema(v, depth + 1) for k, v in schema.get("properties", {}).items()}
        return st.fixed_dictionaries({}, optional=props) | ANY_JSON
    return ANY_JSON


def segment(value: Any) -> str:
    """A path segment or query value as raw URL text (lone surrogates as their UTF-8 bytes)."""
    if isinstance(value, bytes):
        return quote(value, safe="")
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _form(value: Any) -> bytes:
    if isinstance(value, dict):
        pairs = [
            (str(k), v if isinstance(v, str) else json.dumps(v, allow_nan=True)) for k, v in value.items()
        ]
        return urlencode(
            [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in pairs]
        ).encode()
    return str(value).encode("utf-8", "surrogatepass")


@st.composite
def requests(draw: st.DrawFn, op: Operation) -> tuple[str, str, bytes | None, str | None]:
    """``(method, url, body, content type)`` for one generated request to ``op``."""
    path = op.path
    for name, schema in op.path_params:
        value = draw(from_schema(schema) | st.binary(max_size=40))
        path = path.replace("{" + name + "}", segment(value) or "x")
    query = []
    for name, schema in op.query_params:
        if draw(st.booleans()):
            query.append(f"{quote(name)}={segment(draw(from_schema(schema) | st.binary(max_size=20)))}")
    if draw(st.integers(0, 9)) == 0:  # a parameter nobody declared
        query.append(f"{segment(draw(WEIRD_TEXT))}={segment(draw(WEIRD_TEXT))}")
    url = path + ("?" + "&".join(query) if query else "")
    if op.method in ("GET", "DELETE", "HEAD") and not op.body:
        return op.method, url, None, None
    choices = list(op.body.items()) or [("application/json", {})]
    ctype, schema = draw(st.sampled_from(choices))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return op.method, url, draw(st.binary(max_size=80)), ctype
    value = draw(from_schema(schema))
    if ctype == "application/json":
        return op.method, url, json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass"), ctype
    return op.method, url, _form(value), ctype
