"""Fixtures: a built review case, an app client, and signing in as each role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tessera.review import create_app
from tessera.store.case import CaseHandle
from tests.review.helpers import PASSWORD, Built, build_case


@pytest.fixture
def built(case: CaseHandle, tmp_path: Path) -> Built:
    return build_case(case, tmp_path)


@pytest.fixture
def client(case: CaseHandle, built: Built) -> Iterator[TestClient]:
    with TestClient(create_app(case)) as c:
        yield c


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token (from the page's meta tag)."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    r = client.post("/login", data={"name": name, "password": password, "csrf": token.group(1)})
    assert r.status_code == 200, r.text
    meta = re.search(r'<meta name="csrf" content="([^"]+)"', r.text)
    assert meta and meta.group(1)
    return meta.group(1)
