"""The hub's HTTP API (FastAPI). Handlers are thin: parse, check the caller, call ``service``, commit.

Every request, refused ones included, is appended to the hub audit log after it is answered: who
(agency and token id, or "anonymous"), what (method and path), the status and the counts the handler
noted. Hash values are not copied into the log; batch ids and counts are.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DataError
from starlette.routing import BaseRoute, Match

from tessera import __version__
from tessera.hub import audit, reads, service
from tessera.hub import models as hm
from tessera.hub.admin_api import admin_router
from tessera.hub.auth import Principal, RateLimiter, resolve
from tessera.hub.benign import benign_router
from tessera.hub.db import sessions
from tessera.hub.guard import RequestGuard
from tessera.hub.index import DEFAULT_PROFILE, PROFILES, HubIndex
from tessera.hub.ratelimit import token_limiter
from tessera.hub.schemas import (
    ChangesResponse,
    ContributionFields,
    PushRequest,
    PushResult,
    QueryRequest,
    QueryResponse,
)
from tessera.refusals import REFUSED, RefusalLog

log = logging.getLogger("tessera.hub")

_bearer = HTTPBearer(auto_error=False, description="An agency API token (tessera hub token create).")


def _printable(value: Any) -> Any:
    # Lone surrogates cannot be encoded into the JSON answer: that was a 500.
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(value, str) else value


def validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's 422 detail without the offending input: NaN and infinities cannot be written as
    JSON (a 500), and the input may be a hash value or a token."""
    return [
        {
            "loc": [_printable(x) for x in e.get("loc", ())],
            "msg": _printable(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in errors
    ]


def allowed_methods(routes: Sequence[BaseRoute], scope: Mapping[str, Any]) -> list[str]:
    """Every method some route serves at this path. Starlette's 405 names only the first route whose
    path matched: PATCH on /v1/contributions/{sha256} said ``Allow: PUT`` though DELETE is served too.
    Each method is tried against the routes (included routers answer ``matches`` for their own)."""
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        if any(r.matches({**scope, "method": method})[0] is Match.FULL for r in routes)
    ]


_HEXRUN = re.compile(r"[0-9A-Fa-f]{16,}")


def redact_path(path: str) -> str:
    """A path fit for the audit log: hex runs (hash values) masked, non-printables escaped, bounded."""
    path = _HEXRUN.sub("<hex>", path[:300])
    return "".join(c if c.isprintable() else f"\\x{ord(c) & 0xFF:02x}" for c in _printable(path))


#: Response header naming the hub process that answered (several may serve one address).
REPLICA_HEADER = "X-Tessera-Replica"
#: Most entries one catch-up round reads (one short transaction; the next round follows at once).
CATCHUP_ROWS = 50_000


def replica_name(prefix: str | None = None) -> str:
    """``prefix`` and the process id: unique among one address's workers. The default prefix is not
    the host name: every client sees the header, and internal machine names are not theirs to know."""
    return f"{prefix or 'hub'}:{os.getpid()}"


class CatchUp:
    """Brings this process's PDQ index up to date with what other hub processes committed, every
    ``interval`` seconds, without waiting for a query to ask: a push through any replica becomes
    matchable on this one within about ``interval`` seconds. Rounds read at most ``rows`` entries each;
    a failure is logged and tried again at the next tick, never fatal."""

    def __init__(self, state: HubState, interval: float, rows: int = CATCHUP_ROWS) -> None:
        self.state, self.interval, self.rows = state, interval, rows
        self.rounds = self.errors = 0
        self.last_error: str | None = None
        self.last_at: float | None = None  # time.time() of the last round that reached the database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-index-catchup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def step(self) -> int:
        """One catch-up: bounded rounds until the index holds everything committed; entries added."""
        index, added = self.state.index, 0
        while not self._stop.is_set():
            with self.state.sessions() as s:  # a short transaction per round
                added += index.refresh(s, limit=self.rows)
            self.rounds += 1
            self.last_at = time.time()
            if index.seq >= index.db_seq:
                return added
        return added

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - the next tick retries; a request may refresh too
                self.errors += 1
                self.last_error = type(exc).__name__
                # The type only: database errors quote their parameters (hash values).
                log.warning("hub index catch-up failed (%s); retrying", self.last_error)


class HubState:
    def __init__(
        self,
        engine: Engine,
        policy: service.Policy,
        catchup_interval: float | None,
        replica: str | None,
        index_profile: str = DEFAULT_PROFILE,
    ) -> None:
        self.engine = engine
        self.sessions = sessions(engine)
        self.policy = policy
        self.replica = replica_name(replica)
        self.index_profile = index_profile
        self.index = HubIndex(bytes_per_entry=PROFILES[index_profile])
        # One budget per token across every hub process on the database (tessera.hub.ratelimit).
        self.limiter = token_limiter(engine, self.sessions, policy.rate, policy.burst)
        self.refusal_limiter = RateLimiter(policy.refusal_rate, policy.refusal_burst)
        self.refusals = RefusalLog(audit.append)
        self.catchup = CatchUp(self, catchup_interval) if catchup_interval else None
        with self.sessions() as s:
            # Several processes append to one chain: one with another key (or none) would break it.
            audit.check_writer_key(s)
            self.index.load(s)

    def status(self) -> dict[str, Any]:
        """What this replica has indexed against what the database holds (lag in sequence numbers)."""
        with self.sessions() as s:
            db_seq = s.scalar(select(func.max(hm.Entry.seq))) or 0
        c = self.catchup
        return {
            "replica": self.replica,
            "index_seq": self.index.seq,
            "index_entries": len(self.index),
            "index_bytes": self.index.nbytes,
            "index_profile": self.index_profile,
            "db_seq": db_seq,
            "lag": max(0, db_seq - self.index.seq),
            "catchup_interval": c.interval if c else None,
            "catchup_rounds": c.rounds if c else 0,
            "catchup_errors": c.errors if c else 0,
            "catchup_last_error": c.last_error if c else None,
            "catchup_last_at": c.last_at if c else None,
        }


def create_app(
    engine: Engine,
    policy: service.Policy | None = None,
    *,
    catchup_interval: float | None = 1.0,
    replica: str | None = None,
    index_profile: str = DEFAULT_PROFILE,
) -> FastAPI:
    """The hub API on ``engine``. ``catchup_interval``: seconds between background catch-ups of the
    PDQ index with entries other processes committed (None: only when requests ask); ``replica``:
    this process's name in the ``X-Tessera-Replica`` header (default ``hub``), pid appended;
    ``index_profile``: the PDQ index's memory profile (``tessera.hub.index.PROFILES``)."""
    if index_profile not in PROFILES:
        raise ValueError(f"unknown index profile {index_profile!r}: one of {', '.join(sorted(PROFILES))}")
    state = HubState(engine, policy or service.Policy(), catchup_interval, replica, index_profile)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.catchup is not None:
            state.catchup.start()
        yield
        if state.catchup is not None:
            state.catchup.stop()
        state.index.close()  # stop its background table builder
        with state.sessions() as s:  # the refusal counts of the last, unfinished minute
            if state.refusals.flush(s, everything=True):
                s.commit()

    app = FastAPI(
        title="Tessera hub",
        version=__version__,
        description="Hash-only sharing between agencies: hashes and metadata, never files.",
        lifespan=lifespan,
    )
    app.state.hub = state

    def resolve_token(token: str) -> Principal | None:
        with state.sessions() as s:
            return resolve(s, token)

    # Added first so it runs inside the audit middleware: refused bodies are audited too.
    app.add_middleware(
        RequestGuard,
        limit=state.policy.max_body_bytes,
        resolve=resolve_token,
        refusal_wait=state.refusal_limiter.take,
    )

    @app.middleware("http")
    async def audit_every_request(request: Request, call_next: Callable[[Request], Any]) -> Response:
        request.state.audit = {}
        response: Response = await call_next(request)
        response.headers[REPLICA_HEADER] = state.replica
        who: Principal | None = getattr(request.state, "principal", None)
        details = {"method": request.method, "status": response.status_code, **request.state.audit}

        label = who.label if who else "anonymous"
        # The path with its hash values masked, the token's label: never the token or the body.
        log.debug(
            "%s %s: %d for %s", request.method, redact_path(request.url.path), response.status_code, label
        )
        refused = response.status_code in REFUSED
        if refused:  # counted in memory, written once a minute per client (see refusals)
            client = request.client.host if request.client else "unknown"
            state.refusals.note(client, label, response.status_code)
            if not state.refusals.due():
                return response

        def record() -> None:
            with state.sessions() as s:
                state.refusals.flush(s)
                if refused:
                    s.commit()
                    return
                route = getattr(request.scope.get("route"), "path", None)
                # The route template (/v1/entries/{sha256}), never the path itself: paths carry hash
                # values, and an unmatched one is whatever a caller typed (NUL, a hash, 1 MB of text).
                subject = route or redact_path(request.url.path)
                action = f"{request.method} {subject}"[:60]
                audit.append(s, label, action, subject, details)
                s.commit()

        await run_in_threadpool(record)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc.errors())}, status_code=422)

    @app.exception_handler(405)
    async def not_allowed(request: Request, exc: Exception) -> JSONResponse:
        allow = ", ".join(allowed_methods(app.router.routes, request.scope))
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": allow})

    @app.exception_handler(DataError)
    async def unstorable(request: Request, _exc: DataError) -> JSONResponse:
        # A value the database cannot take (out of its column's range) that validation let through is
        # the client's mistake, not a server failure; logged in one line, without the query's values.
        log.info("bad input: %s %s: DataError", request.method, redact_path(request.url.path))
        return JSONResponse({"detail": "a value is out of the range the hub stores"}, status_code=400)

    def caller(*scopes: str) -> Callable[..., Principal]:
        """A dependency admitting a live token holding any one of ``scopes``."""
        scope = " or ".join(repr(x) for x in scopes)

        def dependency(
            request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
        ) -> Principal:
            # A request with a body was already resolved by the guard, before its body was read.
            who: Principal | None = getattr(request.state, "principal", None)
            if who is None:
                if creds is None:
                    raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
                who = resolve_token(creds.credentials)
            if who is None:
                raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
            request.state.principal = who
            # Before the scope check, so that a flood of 403s is rate-limited like any request.
            wait = state.limiter.take(who.token_id)
            if wait:
                raise HTTPException(
                    429, "rate limit exceeded; retry later", headers={"Retry-After": str(max(1, round(wait)))}
                )
            if who.scopes.isdisjoint(scopes):
                raise HTTPException(403, f"this token lacks the {scope} scope")
            return who

        return dependency

    contribute, querying, admin = caller("contribute"), caller("query"), caller("admin")
    app.include_router(admin_router(state.sessions, admin))
    app.include_router(benign_router(state.sessions, contribute, querying))

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.post("/v1/contributions", response_model=PushResult)
    def push(body: PushRequest, request: Request, who: Principal = Depends(contribute)) -> dict[str, Any]:
        """Contribute a batch (idempotent by batch id and by (entry, agency))."""
        # The batch id is the client's choice (a file's SHA-256 fits its pattern): the log keeps a
        # digest of it, enough to tie a retry to its first push, never the id as sent.
        request.state.audit.update(batch=audit.batch_ref(body.batch_id), items=len(body.items))
        if len(body.items) > state.policy.max_push_items:
            raise HTTPException(
                413, f"{len(body.items)} items exceed the limit of {state.policy.max_push_items} per batch"
            )
        with state.sessions() as s:
            try:
                result, delta = service.push(s, who, body.batch_id, [i.stored() for i in body.items])
            except service.BatchConflict as exc:
                raise HTTPException(409, str(exc)) from None
            s.commit()
            if delta is not None:  # new entries are matchable as soon as they are committed
                state.index.advance(s, delta.before, delta.after, delta.ids, delta.hexes)
        request.state.audit.update(
            new=result["new_entries"], changed=result["changed"], duplicate=result["duplicate_batch"]
        )
        if "query" not in who.scopes:
            # Whether a hash was already known is what a query would tell; a token that may not query
            # is not told (``changed`` only counts its own agency's contributions, so it stays).
            result["new_entries"] = None
        return result

    @app.put("/v1/contributions/{sha256}")
    def change(
        sha256: str, body: ContributionFields, request: Request, who: Principal = Depends(contribute)
    ) -> dict[str, Any]:
        """Change your own agency's contribution to an entry."""
        with state.sessions() as s:
            try:
                view = service.change(s, who, sha256, body.stored())
            except service.NotFound as exc:
                raise HTTPException(404, str(exc)) from None
            s.commit()
        return view

    @app.delete("/v1/contributions/{sha256}", status_code=204)
    def withdraw(sha256: str, request: Request, who: Principal = Depends(contribute)) -> Response:
        """Withdraw your own agency's contribution; the entry disappears when nobody contributes it."""
        with state.sessions() as s:
            try:
                service.withdraw(s, who, sha256)
            except service.NotFound as exc:
                raise HTTPException(404, str(exc)) from None
            s.commit()
        return Response(status_code=204)

    @app.post("/v1/query", response_model=QueryResponse)
    def query(body: QueryRequest, request: Request, who: Principal = Depends(querying)) -> dict[str, Any]:
        """Exact (MD5, SHA-1, SHA-256) and PDQ matches with consensus category, series, victim flag."""
        hashes = {"md5": body.md5, "sha1": body.sha1, "sha256": body.sha256, "pdq": body.pdq}
        n = sum(len(v) for v in hashes.values())
        request.state.audit.update(hashes=n)
        if n > state.policy.max_query_hashes:
            raise HTTPException(
                413, f"{n} hashes exceed the limit of {state.policy.max_query_hashes} per query"
            )
        with state.sessions() as s:
            results = reads.query(s, state.index, hashes, body.pdq_radius)
        request.state.audit.update(matched=sum(1 for r in results if r["matches"]))
        return {"results": results}

    @app.get("/v1/changes", response_model=ChangesResponse)
    def changes(
        request: Request,
        since: int = Query(0, ge=0, le=2**63 - 1),  # the cursor is a BIGINT
        limit: int = Query(1000, ge=1),
        who: Principal = Depends(querying),
    ) -> dict[str, Any]:
        """Entries changed after cursor ``since``, in order; pass the returned cursor next time."""
        if limit > state.policy.max_pull_limit:
            raise HTTPException(413, f"limit {limit} exceeds {state.policy.max_pull_limit}")
        with state.sessions() as s:
            page = reads.changes(s, since, limit)
        request.state.audit.update(since=since, returned=len(page["entries"]))
        return page

    @app.get("/v1/entries/{sha256}")
    def entry(sha256: str, who: Principal = Depends(querying)) -> dict[str, Any]:
        """One entry, your own contribution and its near-duplicates (contributors only if policy allows)."""
        with state.sessions() as s:
            try:
                return reads.get_entry(s, who, sha256, state.policy, state.index)
            except service.NotFound as exc:
                raise HTTPException(404, str(exc)) from None

    @app.get("/v1/entries/{sha256}/contributors")
    def entry_contributors(
        sha256: str, who: Principal = Depends(caller("query", "admin"))
    ) -> list[dict[str, Any]]:
        """Who contributed an entry: hub operators only, unless the sharing policy says otherwise."""
        if not reads.may_see_contributors(who, state.policy):
            raise HTTPException(403, "the sharing policy does not let agencies see who else contributed")
        with state.sessions() as s:
            try:
                return reads.contributors(s, sha256)
            except service.NotFound as exc:
                raise HTTPException(404, str(exc)) from None

    @app.get("/v1/admin/replica", tags=["administration"])
    def replica_status(who: Principal = Depends(admin)) -> dict[str, Any]:
        """This process: its name, the sequence number its PDQ index has read up to, the database's."""
        return state.status()

    @app.get("/v1/admin/conflicts", tags=["administration"])
    def conflicts(limit: int = Query(1000, ge=1, le=10_000), who: Principal = Depends(admin)) -> list[Any]:
        """Entries whose contributors disagree on the category, for the hub operator to settle."""
        with state.sessions() as s:
            return reads.conflicts(s, limit)

    return app
