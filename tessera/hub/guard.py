"""The hub's outer ASGI guard: bounded bodies and no body read for a caller without a valid token.

A ``Content-Length`` check alone is not a bound: with ``Transfer-Encoding: chunked`` the header can
say 10 bytes while 300 MB follow, and Starlette reads every chunk it is handed. So the guard counts
the bytes as ``receive`` hands them over and stops at the limit, whatever the framing claimed; the
answer is then 413 with ``Connection: close`` (the server discards the rest instead of the hub
keeping it). A request to a token-protected route without a valid token is refused (401) before a
single body byte is read, so an anonymous caller cannot make the hub buffer anything; those
refusals are rate-limited per client address (429 above the limit).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.concurrency import run_in_threadpool

from tessera.hub.auth import Principal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Routes that answer without a token; everything else needs one.
PUBLIC_PATHS = frozenset({"/v1/health", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"})


log = logging.getLogger("tessera.hub")


class BodyTooLarge(Exception):
    """Raised inside ``receive`` once the counted body passes the limit (the app stops reading)."""


def json_error(status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> list[Message]:
    """The ASGI messages of the hub's documented error shape, ``{"detail": ...}``."""
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return [
        {"type": "http.response.start", "status": status, "headers": head + (headers or [])},
        {"type": "http.response.body", "body": body},
    ]


def clean_target(scope: Scope) -> bool:
    """No hub path or query value holds a NUL or invalid UTF-8; refusing them here keeps them out of
    every database query (PostgreSQL refuses NUL in a string: that was a 500)."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    for raw in (raw_path, scope.get("query_string", b"")):
        try:
            text = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return False
        if "\x00" in text:
            return False
    return "\x00" not in scope["path"]


def log_unexpected(exc: BaseException) -> None:
    """Log an unexpected error's type and stack, never its message: database errors quote their
    statement's parameters (hash values, a token's hash), which must not reach the log."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    chain: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 5:
        chain.append(f"{type(cause).__module__}.{type(cause).__qualname__}")
        cause = cause.__cause__ or cause.__context__
    log.error("unexpected error (%s); message withheld\n%s", " <- ".join(chain), stack)


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    value = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class RequestGuard:
    """Authentication before the body, a counted body limit, rate-limited refusals (module docstring).

    ``resolve`` maps a bearer token to its principal (a database read, so it runs in a thread); the
    principal is left in ``scope["state"]`` so the route's dependency does not look it up again.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        resolve: Callable[[str], Principal | None],
        refusal_wait: Callable[[str], float],
    ) -> None:
        self.app = app
        self.limit = limit
        self.resolve = resolve
        self.refusal_wait = refusal_wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        chunked = b"transfer-encoding" in headers
        has_body = chunked or (length is not None and length.strip() not in (b"", b"0"))
        refusal = await self._refusal(scope, headers, length, has_body)
        if refusal is not None:
            status, detail, extra = refusal
            for message in json_error(status, detail, extra):
                await send(message)
            return

        received = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, over
            if over:  # the app asks again after the cut: tell it the client is gone
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                # Whatever the app made of the cut body (400, 422, 500), the caller is told why.
                started = True
                for m in json_error(413, self._too_large(), [(b"connection", b"close")]):
                    await send(m)
                return
            if over:
                return  # our 413 has been sent; drop the app's own answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass  # answered just below
        except Exception as exc:  # noqa: BLE001 - the last line between a bug and the log
            log_unexpected(exc)
            if not started:
                for m in json_error(500, "internal error"):
                    await guarded_send(m)
            # Not re-raised: the server would log it again, message (and parameters) included. A
            # response cut short mid-body is closed by the server as incomplete.
            return
        if over and not started:
            await guarded_send({"type": "http.response.start", "status": 413, "headers": []})

    def _too_large(self) -> str:
        return f"request body exceeds the limit of {self.limit} bytes"

    async def _refusal(
        self, scope: Scope, headers: dict[bytes, bytes], length: bytes | None, has_body: bool
    ) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        if not clean_target(scope):
            return 400, "the request path or query holds a NUL byte or is not UTF-8", []
        if length is not None and not length.strip().isdigit():
            return 400, "malformed Content-Length header", [(b"connection", b"close")]
        if scope["path"] not in PUBLIC_PATHS:
            token = _bearer(headers)
            who = await run_in_threadpool(self.resolve, token) if token is not None else None
            if who is None:
                # Refusals are rate-limited by client address: guessing tokens costs time too.
                client = scope.get("client")
                wait = self.refusal_wait(client[0] if client else "unknown")
                if wait:
                    return (
                        429,
                        "too many refused requests; retry later",
                        [(b"retry-after", str(max(1, round(wait))).encode())],
                    )
                # An unread body is not worth keeping the connection for: the server would read it.
                challenge = [(b"www-authenticate", b"Bearer")]
                if has_body:
                    challenge.append((b"connection", b"close"))
                return 401, "missing bearer token" if token is None else "unknown or revoked token", challenge
            scope.setdefault("state", {})["principal"] = who
        if length is not None and int(length) > self.limit:
            return 413, f"request body of {int(length)} bytes exceeds the limit of {self.limit}", []
        return None
