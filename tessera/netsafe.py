"""What the two servers (the review workstation and the hub) share about where they listen and who
they answer: loopback detection, the Host allow-list (DNS rebinding), and the rule that a server
reachable from other machines speaks TLS unless the operator explicitly says otherwise.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything, so it is treated as reachable from outside


def host_of(raw: bytes) -> str:
    """The host name of a Host header, lower case, without the port ('' when unreadable)."""
    try:
        text = raw.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return ""
    if text.startswith("["):  # [::1]:8080
        return text[: text.find("]") + 1] if "]" in text else ""
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def default_hosts(bind: str) -> frozenset[str]:
    """The bind address and the names of this machine's loopback interface."""
    hosts = {"localhost", "127.0.0.1", "[::1]", bind.lower()}
    if ":" in bind and not bind.startswith("["):
        hosts.add(f"[{bind.lower()}]")
    return frozenset(hosts)


def transport_problem(host: str, tls: bool, insecure_http: bool) -> str | None:
    """Why serving on ``host`` this way is refused, or None."""
    if not tls and not is_loopback(host) and not insecure_http:
        return (
            f"--host {host} without TLS would send secrets (passwords, tokens, cookies) in clear: "
            "give --certfile/--keyfile (or --insecure-http)"
        )
    return None


class AllowedHosts:
    """ASGI wrapper answering 400 to a request whose Host header is not one of ``hosts``: a page on
    another site that rebinds its name to this address must not reach the server."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = next((v for k, v in scope.get("headers", []) if k == b"host"), b"")
            if host_of(raw) not in self.hosts:
                body = json.dumps({"detail": "unknown Host header"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
