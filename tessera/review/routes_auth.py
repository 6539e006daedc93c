"""Sign-in, sign-out and the reviewer's own blur level."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from tessera.audit import append
from tessera.review import auth, signin
from tessera.review.deps import COOKIE, LOGIN_COOKIE, Checked, Db, render

router = APIRouter()


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    # HttpOnly: no script can read it; SameSite=strict: no other site can make the browser send it;
    # Secure when served over TLS (`tessera serve --certfile`), so the browser never sends it in clear.
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", path="/", secure=_secure(request)
    )


def _drop_cookie(response: Response, request: Request, name: str) -> None:
    # Deleted with the attributes it was set with: browsers match on them, and a mismatch can leave it.
    response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=_secure(request))


def _secure(request: Request) -> bool:
    return bool(getattr(request.app.state, "secure_cookies", False))


def _login_page(request: Request, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, error=error)
    response.status_code = status
    _cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    # Before a session exists the CSRF token is a double-submit cookie: the form must echo it.
    return _login_page(request, None, 200)


REFUSED = "Wrong name or password, or the account is locked after too many failed sign-ins."


@router.post("/login")
def login(
    request: Request,
    db: Db,
    name: Annotated[str, Form(max_length=signin.MAX_NAME)],
    password: Annotated[str, Form(max_length=signin.MAX_PASSWORD)],
    csrf: Annotated[str, Form(max_length=signin.MAX_CSRF)] = "",
) -> Response:
    if not auth.csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    guard: signin.SigninGuard = request.app.state.signin
    client = _client(request)
    wait = guard.retry_after(name, client)
    if wait:
        # Not audited one row per attempt (that would let a guesser flood the log); the failures that
        # started the wait were, and the lock will be.
        response = _login_page(request, f"Too many failed sign-ins: try again in {wait} s.", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    user, why = auth.authenticate(db, name, password, guard.lock_after)
    if user is None:
        guard.failed(name, client)
        subject = name or "?"
        append(db, subject, "sign-in failed", subject, {"client": client, "reason": why})
        if why == "locked":
            append(db, subject, "account locked", subject, {"client": client, "after": guard.lock_after})
        db.commit()
        return _login_page(request, REFUSED, 401)
    guard.succeeded(name, client)
    token, _csrf = auth.start_session(db, user)
    append(db, user.name, "sign-in", user.name, {"role": user.role, "client": client})
    db.commit()
    response = RedirectResponse("/", status_code=303)
    _cookie(response, request, COOKIE, token, auth.SESSION_HOURS * 3600)
    _drop_cookie(response, request, LOGIN_COOKIE)
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
    _drop_cookie(response, request, COOKIE)
    return response


@router.post("/settings/blur")
def set_blur(ctx: Checked, blur: Annotated[int, Form(ge=-(2**31), le=2**31)]) -> Response:
    ctx.user.blur = auth.clamp_blur(blur)
    ctx.db.commit()
    return RedirectResponse("/review", status_code=303)
