"""Property-based requests against every hub route (Hypothesis): random path segments, query values
and JSON bodies, with NUL, lone surrogates, invalid UTF-8, NaN, infinities and huge integers mixed in.
Whatever comes in, the answer is never a 5xx and always the JSON error shape; the hub keeps answering.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from tessera.hub import models as hm
from tessera.hub.app import create_app
from tessera.hub.service import Policy
from tests.hub.conftest import Hub, auth, make_client
from tests.openapi_fuzz import FUZZ_EXAMPLES, Operation, operations, requests

EXAMPLES = 150  # per route and database: about 3,300 requests per run

_weird_text = st.text() | st.sampled_from(["\x00", "\ud800", "a\udc00b", "ab" * 32, "AB" * 32 + "\x00", ""])
_numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([2**63, 2**64, -(2**63) - 1, 0, 1, 99])
)
_scalars = st.none() | st.booleans() | _numbers | _weird_text
_json: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_weird_text, inner, max_size=4),
    max_leaves=12,
)
_fields = (
    "sha256",
    "md5",
    "sha1",
    "pdq",
    "pdq_quality",
    "category",
    "profile",
    "series",
    "victim_identified",
    "first_seen",
)
_item = st.fixed_dictionaries({}, optional={f: _scalars for f in _fields})
_push = st.fixed_dictionaries(
    {"batch_id": _weird_text | st.just("batch-fuzz-01"), "items": st.lists(_item, max_size=3)}
)
_query = st.fixed_dictionaries(
    {},
    optional={k: st.lists(_weird_text | _numbers, max_size=3) for k in ("md5", "sha1", "sha256", "pdq")}
    | {"pdq_radius": _scalars},
)
_bodies = (
    _json.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | st.binary(max_size=64)
    | _push.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | _query.map(lambda v: json.dumps(v, allow_nan=True).encode())
)


def _segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


_segments = _weird_text.map(_segment) | st.binary(max_size=40).map(lambda b: quote(b, safe=""))
_qvalues = _segments | _numbers.map(str)

ROUTES: list[tuple[str, str, bool]] = [  # method, path template ({} = a random segment), has body
    ("POST", "/v1/contributions", True),
    ("PUT", "/v1/contributions/{}", True),
    ("DELETE", "/v1/contributions/{}", False),
    ("POST", "/v1/query", True),
    ("GET", "/v1/changes?since={}&limit={}", False),
    ("GET", "/v1/entries/{}", False),
    ("GET", "/v1/entries/{}/contributors", False),
    ("GET", "/v1/admin/conflicts?limit={}", False),
    ("GET", "/v1/admin/agencies", False),
    ("POST", "/v1/admin/agencies", True),
    ("POST", "/v1/admin/agencies/{}/tokens", True),
    ("GET", "/v1/admin/tokens?agency={}&revoked={}", False),
    ("DELETE", "/v1/admin/tokens/{}", False),
]


def _spec() -> dict[str, Any]:
    engine = create_engine("sqlite://")  # the description does not depend on the database's content
    hm.HubBase.metadata.create_all(engine)
    return dict(create_app(engine).openapi())


#: Every operation of the hub's OpenAPI description (the hand-written routes above add hostile
#: values in the hub's own fields; these cover whatever the description lists, new routes included).
OPERATIONS = operations(_spec())


@pytest.fixture
def fuzz_api(hub: Hub) -> Iterator[TestClient]:
    # No rate limit in the way: every generated request should reach its handler.
    with make_client(hub, Policy(rate=1e9, burst=10**9, refusal_rate=1e9, refusal_burst=10**9)) as client:
        yield client


@pytest.mark.parametrize("method,template,has_body", ROUTES)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_route_answers_5xx(
    hub: Hub, fuzz_api: TestClient, method: str, template: str, has_body: bool, data: st.DataObject
) -> None:
    path = template
    while "{}" in path:
        value = data.draw(_qvalues if "?" in path and path.index("{}") > path.index("?") else _segments)
        path = path.replace("{}", value, 1)
    body = data.draw(_bodies) if has_body else None
    who = data.draw(st.sampled_from(["admin", "A", "C"]))
    headers = {**auth(hub.tokens[who]), "content-type": "application/json"}
    r = fuzz_api.request(method, path, content=body, headers=headers)
    assert r.status_code < 500, (method, path, body, r.status_code, r.text[:200])
    if r.status_code >= 400:
        assert "detail" in r.json()


def test_the_description_lists_every_hand_written_route() -> None:
    listed = {(op.method, op.path.replace("{", "<").split("<")[0]) for op in OPERATIONS}
    for method, template, _ in ROUTES:
        assert (method, template.split("{")[0].split("?")[0]) in listed, (method, template)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.id)
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_operation_answers_5xx(hub: Hub, fuzz_api: TestClient, op: Operation, data: st.DataObject) -> None:
    method, url, body, ctype = data.draw(requests(op))
    who = data.draw(st.sampled_from(["admin", "A", "C", None]))
    headers = auth(hub.tokens[who]) if who else {}
    if ctype:
        headers["content-type"] = ctype
    r = fuzz_api.request(method, url, content=body, headers=headers)
    assert r.status_code < 500, (method, url, body, r.status_code, r.text[:200])
    if r.status_code >= 400:
        assert "detail" in r.json()
