"""The HTTP client a case uses to talk to a hub: retries what is safe to retry, explains what is not.

Every call is safe to retry: a push batch carries an id derived from its content, so a batch that
reached the hub but whose answer was lost is recognised and not applied twice; pulls are cursor reads.
The client talks only to the URL it is given.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from tessera.hashing.algorithms import ALGORITHMS

PUSH_BATCH = 5000
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class HubClientError(RuntimeError):
    """The hub refused a request (4xx) or stayed unreachable; the message carries its reason."""


def read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            token = fh.read().strip()
    except OSError as exc:
        raise HubClientError(f"cannot read token file {path}: {exc.strerror}") from None
    if not token:
        raise HubClientError(f"token file {path} is empty")
    return token


def _canonical(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, sort_keys=True, separators=(",", ":"), default=str)


def batch_id(items: list[dict[str, Any]]) -> str:
    """The same items always give the same id, so a re-run of an interrupted push is recognised."""
    return _id_of(_canonical(items))


def _id_of(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def push_body(items: list[dict[str, Any]]) -> bytes:
    """The JSON body of a push, with its batch id; the items are encoded once, for both."""
    text = _canonical(items)
    return f'{{"batch_id":"{_id_of(text)}","items":{text}}}'.encode()


def retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 allows
    both); ``default`` when absent or unreadable, never negative."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HubClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 120.0,
        retries: int = 6,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        delay = 0.5
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                r = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise HubClientError(f"hub {self.url} unreachable: {exc}") from None
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if r.status_code in _RETRY_STATUS and not last:
                wait = retry_after(r.headers.get("Retry-After"), delay)
                time.sleep(min(wait, 30.0))
                delay = min(delay * 2, 10.0)
                continue
            if r.status_code >= 400:
                raise HubClientError(f"hub refused {method} {path}: {r.status_code} {_reason(r)}")
            return r.json() if r.content else None
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------------------- operations

    def push(
        self,
        items: Iterable[dict[str, Any]],
        batch_size: int = PUSH_BATCH,
        on_batch: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, int]:
        """Push ``items`` in batches, in order. While the hub applies one batch, the next is gathered and
        encoded here (one batch in flight, so a refusal still stops the push after that batch)."""
        totals = {
            "items": 0,
            "new_entries": 0,
            "new_hidden": 0,
            "changed": 0,
            "batches": 0,
            "duplicate_batches": 0,
        }

        def send(body: bytes) -> Any:
            headers = {"Content-Type": "application/json"}
            return self.request("POST", "/v1/contributions", content=body, headers=headers)

        def tally(result: dict[str, Any]) -> None:
            totals["items"] += result["items"]
            if result["new_entries"] is None:  # a contribute-only token is not told
                totals["new_hidden"] += 1
            else:
                totals["new_entries"] += result["new_entries"]
            totals["changed"] += result["changed"]
            totals["batches"] += 1
            totals["duplicate_batches"] += int(result["duplicate_batch"])
            if on_batch:
                on_batch(result)

        # The items are read on this thread (a case database session may be bound to it); only the
        # HTTP exchange runs on the worker.
        with ThreadPoolExecutor(1, thread_name_prefix="hub-push") as pool:
            pending: Future[Any] | None = None
            for batch in _batches(items, batch_size):
                body = push_body(batch)
                if pending is not None:
                    tally(pending.result())
                pending = pool.submit(send, body)
            if pending is not None:
                tally(pending.result())
        return totals

    def changes(self, since: int, limit: int = 1000) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/v1/changes", params={"since": since, "limit": limit})
        return result

    def query(self, hashes: dict[str, list[str]], pdq_radius: int | None = None) -> list[dict[str, Any]]:
        """``hashes``: algorithm (md5, sha1, sha256, pdq) -> hex values; radius: PDQ's threshold if None."""
        if pdq_radius is None:
            pdq_radius = ALGORITHMS.get("pdq").default_threshold
        result = self.request("POST", "/v1/query", json={**hashes, "pdq_radius": pdq_radius})
        return list(result["results"])

    def entry(self, sha256: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/entries/{sha256}")
        return result

    def change(self, sha256: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PUT", f"/v1/contributions/{sha256}", json=fields)
        return result

    def withdraw(self, sha256: str) -> None:
        self.request("DELETE", f"/v1/contributions/{sha256}")


def _batches(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _reason(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail")
    except (ValueError, AttributeError):
        return r.text[:300]
    if isinstance(detail, list):  # FastAPI validation errors: say where and what
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail[:5])
    return str(detail)
