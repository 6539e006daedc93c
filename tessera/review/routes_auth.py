"""Sign-in, sign-out and the reviewer's own blur level."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from tessera.audit import append
from tessera.review import auth
from tessera.review.deps import COOKIE, LOGIN_COOKIE, Db, Writer, render

router = APIRouter()


def _cookie(response: Response, name: str, value: str, max_age: int) -> None:
    # HttpOnly: no script can read it; SameSite=strict: no other site can make the browser send it.
    # Secure is not set because the server binds to 127.0.0.1 over plain HTTP.
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/")


@router.get("/login")
def login_form(request: Request) -> Response:
    # Before a session exists the CSRF token is a double-submit cookie: the form must echo it.
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, error=None)
    _cookie(response, LOGIN_COOKIE, token, 3600)
    return response


@router.post("/login")
def login(
    request: Request,
    db: Db,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not auth.csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    user = auth.authenticate(db, name, password)
    if user is None:
        append(db, name or "?", "sign-in failed", name or "?", {"client": _client(request)})
        db.commit()
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", None, login_csrf=token, error="Wrong name or password.")
        response.status_code = 401
        _cookie(response, LOGIN_COOKIE, token, 3600)
        return response
    token, _csrf = auth.start_session(db, user)
    append(db, user.name, "sign-in", user.name, {"role": user.role, "client": _client(request)})
    db.commit()
    response = RedirectResponse("/", status_code=303)
    _cookie(response, COOKIE, token, auth.SESSION_HOURS * 3600)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


@router.post("/logout")
async def logout(request: Request, db: Db) -> Response:
    # Signing out needs the CSRF token too (a forged sign-out is a nuisance), but a viewer may do it.
    from tessera.review.deps import _csrf_given, current

    ctx = current(request, db)
    if not auth.csrf_ok(ctx.csrf, await _csrf_given(request)):
        raise HTTPException(403, "missing or wrong CSRF token")
    auth.end_session(db, ctx.token)
    append(db, ctx.user.name, "sign-out", ctx.user.name, {})
    db.commit()
    request.app.state.revealed.pop(ctx.token, None)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/settings/blur")
def set_blur(ctx: Writer, blur: Annotated[int, Form()]) -> Response:
    ctx.user.blur = auth.clamp_blur(blur)
    ctx.db.commit()
    return RedirectResponse("/review", status_code=303)
