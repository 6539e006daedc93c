"""Request guards in front of every route: a bounded body, an allowed Host, bad input as a 4xx, and
every 4xx answer counted into the case audit log (aggregated per client, user and minute: see
:mod:`tessera.refusals`).

Pure ASGI rather than FastAPI middleware so the body is counted as it arrives, whatever the framing
(a small Content-Length and chunked encoding cannot get past it), and nothing is buffered first.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from tessera.audit import append
from tessera.netsafe import default_hosts, host_of  # noqa: F401  (used here and re-exported)
from tessera.refusals import RefusalLog
from tessera.review.signin import MAX_LOGIN_BODY

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The largest body any workstation form or JSON call needs (a bulk decision on a page of items is a few
#: kilobytes); the sign-in form, open to anyone, gets far less.
MAX_BODY = 1 << 20

log = logging.getLogger(__name__)


async def send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _limit(scope: Scope) -> int:
    return MAX_LOGIN_BODY if scope.get("path") == "/login" else MAX_BODY


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Guards:
    def __init__(
        self, app: ASGIApp, allowed_hosts: frozenset[str] | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        #: lower-case host names without port; None: any (the TestClient and direct use in tests)
        self.allowed_hosts = allowed_hosts
        self.refusals = RefusalLog(append, clock)

    def flush_refusals(self, everything: bool = False) -> int:
        """Write the finished minutes' refusal counts to the case audit log (blocking: a thread)."""
        handle = getattr(getattr(self.app, "state", None), "case", None)
        if handle is None:
            return 0
        with handle.session() as s:
            written = self.refusals.flush(s, everything=everything)
            if written:
                s.commit()
            return written

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        scope.setdefault("state", {})
        try:
            await self._guarded(scope, receive, watched)
        finally:
            if status and 400 <= status[0] < 500:
                who = scope["state"].get("tessera_user") or "anonymous"
                self.refusals.note(client_of(scope), str(who), status[0])
            if self.refusals.due():
                await anyio.to_thread.run_sync(self.flush_refusals)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if self.allowed_hosts is not None and host_of(headers.get(b"host", b"")) not in self.allowed_hosts:
            # DNS rebinding: a page from another site whose name now resolves to us is refused here.
            await send_error(send, 400, "unknown Host header")
            return
        limit = _limit(scope)
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await send_error(send, 400, "bad Content-Length")
                return
            if too_big:
                # Refused before a byte of the body is read.
                await send_error(send, 413, f"request body over {limit} bytes")
                return
        # Read the body here, up to the limit, and hand it on whole: whatever the framing (a chunked body
        # has no length to check up front) no more than the limit is ever held.
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await send_error(send, 413, f"request body over {limit} bytes")
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as Starlette expects

        await self.app(scope, replay, send)
