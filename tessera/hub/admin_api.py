"""Agency and token management over HTTP, for tokens with the ``admin`` scope.

The same operations as ``tessera hub agency ...`` / ``tessera hub token ...`` (which work on the
database directly), through the functions in ``auth``. A new token is in the creation answer only; the
hub keeps its SHA-256. Like every request, each call lands in the hub audit log with the agency code,
token id and scopes it concerned (never a token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from tessera.hub import models as hm
from tessera.hub.auth import (
    Principal,
    add_agency,
    agency_view,
    create_token,
    list_agencies,
    list_tokens,
    revoke_token,
    token_view,
)
from tessera.hub.db import AlreadyExists, UnknownName
from tessera.hub.schemas import AgencyCreate, AgencyView, TokenCreate, TokenIssued, TokenView


def admin_router(sessions: sessionmaker[Session], admin: Callable[..., Principal]) -> APIRouter:
    api = APIRouter(prefix="/v1/admin", tags=["administration"])

    @api.post("/agencies", status_code=201, response_model=AgencyView)
    def create_agency_route(
        body: AgencyCreate, request: Request, who: Principal = Depends(admin)
    ) -> dict[str, Any]:
        """Register an agency (409 if the code is taken)."""
        request.state.audit.update(agency=body.code)
        with sessions() as s:
            try:
                agency = add_agency(s, body.code, body.name)
            except AlreadyExists as exc:
                raise HTTPException(409, str(exc)) from None
            s.commit()
            return agency_view(agency, 0)

    @api.get("/agencies", response_model=list[AgencyView])
    def agencies_route(who: Principal = Depends(admin)) -> list[dict[str, Any]]:
        """Every agency, with its number of unrevoked tokens."""
        with sessions() as s:
            return list_agencies(s)

    @api.post("/agencies/{code}/tokens", status_code=201, response_model=TokenIssued)
    def create_token_route(
        code: str, body: TokenCreate, request: Request, who: Principal = Depends(admin)
    ) -> dict[str, Any]:
        """Issue a token for an agency. The token is in this answer only: it cannot be shown again."""
        scopes = sorted(set(body.scopes))
        request.state.audit.update(agency=code, scopes=scopes)
        with sessions() as s:
            try:
                token_id, token = create_token(s, code, list(scopes), body.label)
            except UnknownName as exc:
                raise HTTPException(404, str(exc)) from None
            s.commit()
            row = s.get(hm.Token, token_id)
            assert row is not None
            view = token_view(row, code)
        request.state.audit.update(token_id=token_id)
        return view | {"token": token}

    @api.get("/tokens", response_model=list[TokenView])
    def tokens_route(
        agency: str | None = Query(None, description="Only this agency's tokens."),
        revoked: bool = Query(True, description="Include revoked tokens."),
        who: Principal = Depends(admin),
    ) -> list[dict[str, Any]]:
        """Tokens without their secrets: id, agency, first characters, scopes, label, dates."""
        with sessions() as s:
            try:
                return list_tokens(s, agency, revoked)
            except UnknownName as exc:
                raise HTTPException(404, str(exc)) from None

    @api.delete("/tokens/{token_id}", response_model=TokenView)
    def revoke_token_route(
        request: Request,
        token_id: int = Path(ge=1, le=2**31 - 1),  # token ids are INTEGER: a larger one names no token
        who: Principal = Depends(admin),
    ) -> dict[str, Any]:
        """Revoke a token: refused from the next request on. Revoking a revoked token changes nothing."""
        request.state.audit.update(token_id=token_id)
        with sessions() as s:
            try:
                row = revoke_token(s, token_id)
            except UnknownName as exc:
                raise HTTPException(404, str(exc)) from None
            s.commit()
            agency = s.get(hm.Agency, row.agency_id)
            assert agency is not None
            request.state.audit.update(agency=agency.code)
            return token_view(row, agency.code)

    return api
