"""Sign-in under attack: progressive delay (429 + Retry-After), lockout, examiner unlock, bounded form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tessera.review import create_app
from tessera.review.signin import Throttle
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tests.review.conftest import sign_in
from tests.review.helpers import PASSWORD, Built
from tests.review.test_cli import tessera


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def _try(client: TestClient, name: str, password: str) -> int:
    r = client.post("/login", data={"name": name, "password": password, "csrf": _token(client)})
    return r.status_code


def _actions(case: CaseHandle, action: str) -> int:
    with case.session() as s:
        return int(s.scalar(select(func.count()).where(m.AuditEntry.action == action)) or 0)


def test_throttle_doubles_after_the_free_failures() -> None:
    clock = Clock()
    t = Throttle(free=3, cap=60, clock=clock)
    for _ in range(3):
        t.failed("a")
    assert t.retry_after("a") == 1  # 2^0 after the third failure
    clock.now += 1
    assert t.retry_after("a") == 0
    for _ in range(10):
        t.failed("a")
    assert t.retry_after("a") == 60  # capped
    t.succeeded("a")
    assert t.retry_after("a") == 0
    small = Throttle(free=1, max_keys=5, clock=clock)
    for k in range(50):
        small.failed(str(k))
    assert len(small._seen) == 5  # bounded: a spray of names cannot grow memory


def test_wrong_guesses_are_delayed_with_429_not_slept(client: TestClient) -> None:
    codes = [_try(client, "rita", f"guess-{k}") for k in range(5)]
    assert codes[:3] == [401, 401, 401]
    assert 429 in codes[3:]
    r = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": _token(client)})
    assert r.status_code == 429  # even the right password waits: the password is not even checked
    assert int(r.headers["retry-after"]) >= 1


def test_fifty_wrong_passwords_lock_until_an_examiner_unlocks(case: CaseHandle, built: Built) -> None:
    with TestClient(create_app(case)) as client:
        clock = Clock()
        client.app.app.state.signin.set_clock(clock)  # type: ignore[attr-defined]
        for k in range(50):
            clock.now += 10_000  # past any wait, so each of the 50 guesses reaches the password check
            assert _try(client, "rita", f"wrong-{k}") == 401
        clock.now += 10_000
        page = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": _token(client)})
        assert page.status_code == 401
        assert "locked" in page.text
        assert _actions(case, "account locked") == 1
        assert tessera("user", "unlock", "rita", case=case.directory).returncode == 0
        assert _actions(case, "user unlock") == 1
        listed = tessera("user", "list", "--format", "json", case=case.directory)
        assert '"locked": false' in listed.stdout
        clock.now += 10_000
        sign_in(client, "rita")
    again = tessera("user", "unlock", "rita", case=case.directory)
    assert again.returncode == 2 and "not locked" in again.stderr + again.stdout


def test_lock_threshold_is_configurable_and_a_success_resets_it(case: CaseHandle, built: Built) -> None:
    with TestClient(create_app(case, lock_after=3)) as client:
        clock = Clock()
        client.app.app.state.signin.set_clock(clock)  # type: ignore[attr-defined]
        for _ in range(2):
            clock.now += 10_000
            assert _try(client, "eva", "nope-nope") == 401
        clock.now += 10_000
        sign_in(client, "eva")  # two failures, then a success: the count starts again
        client.cookies.clear()
        for _ in range(3):
            clock.now += 10_000
            assert _try(client, "eva", "nope-nope") == 401
        clock.now += 10_000
        assert _try(client, "eva", PASSWORD) == 401
    assert _actions(case, "account locked") == 1


def test_sign_in_form_is_bounded(client: TestClient, case: CaseHandle) -> None:
    token = _token(client)
    big = client.post("/login", data={"name": "x" * 1_800_000, "password": "p", "csrf": token})
    assert big.status_code == 413
    # A chunked body (no Content-Length) is counted as it arrives.
    chunks = (b"name=" + b"x" * 10_000 for _ in range(200))
    chunked = client.post(
        "/login", content=chunks, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413
    long_name = client.post("/login", data={"name": "n" * 101, "password": "p", "csrf": token})
    assert long_name.status_code == 422
    long_pw = client.post("/login", data={"name": "rita", "password": "p" * 1025, "csrf": token})
    assert long_pw.status_code == 422
    with case.session() as s:
        longest = s.scalar(select(func.max(func.length(m.AuditEntry.details))))
    assert (longest or 0) < 2000
