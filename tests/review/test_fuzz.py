"""Every workstation operation in its OpenAPI description fuzzed (see tests/openapi_fuzz.py): whatever
comes in, the answer is never a 5xx, and the workstation keeps serving."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.review import create_app
from tessera.store.case import CaseHandle
from tests.openapi_fuzz import FUZZ_EXAMPLES, Operation, operations, requests
from tests.review.conftest import sign_in
from tests.review.helpers import build_case


def _spec() -> dict[str, Any]:
    # The description does not depend on the case: a stand-in with a scratch directory is enough.
    stand_in: Any = SimpleNamespace(directory=Path(tempfile.mkdtemp(prefix="tessera-spec-")))
    return dict(create_app(stand_in).app.openapi())


OPERATIONS = operations(_spec())


@dataclass
class Signed:
    client: TestClient
    csrf: str


@pytest.fixture
def signed_in(case: CaseHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    build_case(case, tmp_path_factory.mktemp("fuzz"), n_series=1, n_single=1)
    # No lockout in the way: the sign-in form is fuzzed with every name, the examiner's included.
    with TestClient(create_app(case, lock_after=10**9), raise_server_exceptions=False) as client:
        yield Signed(client, sign_in(client, "eva"))


def test_the_description_lists_every_route() -> None:
    ids = {op.id for op in OPERATIONS}
    for expected in (
        "POST /api/decide",
        "POST /api/reveal",
        "GET /media/{sha256}",
        "POST /login",
        "GET /api/graph",
    ):
        assert expected in ids
    assert len(OPERATIONS) >= 17


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.id)
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_operation_answers_5xx(
    signed_in: Signed, op: Operation, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    method, url, body, ctype = data.draw(requests(op))
    headers = {"x-csrf-token": signed_in.csrf} if data.draw(st.integers(0, 4)) else {}
    if ctype:
        headers["content-type"] = ctype
    with caplog.at_level(logging.ERROR):
        r = signed_in.client.request(method, url, content=body, headers=headers)
    assert r.status_code < 500, (method, url, body, r.status_code, r.text[:200])
    assert "Traceback" not in caplog.text
    if op.path in ("/logout", "/login") and r.status_code < 400:
        signed_in.csrf = sign_in(signed_in.client, "eva")  # signed out (or in as someone else): again
    assert signed_in.client.get("/login").status_code == 200  # still serving
