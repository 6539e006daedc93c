"""Request plumbing shared by the routes: the database session, the signed-in user, CSRF and roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from tessera.review import auth
from tessera.store.case import CaseHandle
from tessera.store.models_review import ReviewUser

COOKIE = "tessera_session"
LOGIN_COOKIE = "tessera_login"
CSRF_HEADER = "x-csrf-token"
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def count_of(n: int, word: str) -> str:
    """``1 item``, ``2 items``, ``1,200 items``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


templates.env.filters["count_of"] = count_of


class NotSignedIn(Exception):
    pass


def get_db(request: Request) -> Iterator[Session]:
    handle: CaseHandle = request.app.state.case
    with handle.session() as s:
        yield s


Db = Annotated[Session, Depends(get_db)]


@dataclass
class Ctx:
    user: ReviewUser
    csrf: str
    token: str
    db: Session

    @property
    def can_write(self) -> bool:
        return self.user.role != "viewer"


def current(request: Request, db: Db) -> Ctx:
    token = request.cookies.get(COOKIE)
    found = auth.lookup(db, token)
    if found is None or token is None:
        raise NotSignedIn()
    user, ws = found
    request.state.tessera_user = user.name  # names the user on refused requests (tessera.refusals)
    return Ctx(user, ws.csrf, token, db)


User = Annotated[Ctx, Depends(current)]


async def _csrf_given(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given:
        return given
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches it, so Form() parameters still work
        value = form.get("csrf")
        return value if isinstance(value, str) else None
    return None


async def checked(request: Request, ctx: User) -> Ctx:
    """A request that changes only the signed-in user's own settings: a valid CSRF token, any role."""
    if not auth.csrf_ok(ctx.csrf, await _csrf_given(request)):
        raise HTTPException(403, "missing or wrong CSRF token")
    return ctx


Checked = Annotated[Ctx, Depends(checked)]


async def writer(ctx: Checked) -> Ctx:
    """Any state-changing request: a valid CSRF token of this session, and not a viewer."""
    if not ctx.can_write:
        raise HTTPException(403, "viewers cannot change anything")
    return ctx


Writer = Annotated[Ctx, Depends(writer)]


async def examiner(ctx: Writer) -> Ctx:
    if ctx.user.role != "examiner":
        raise HTTPException(403, "examiners only")
    return ctx


Examiner = Annotated[Ctx, Depends(examiner)]


def render(request: Request, name: str, ctx: Ctx | None, **values: Any) -> Any:
    values.update(request=request, me=ctx.user if ctx else None, csrf=ctx.csrf if ctx else "")
    values.setdefault("can_write", bool(ctx and ctx.can_write))
    values.setdefault("case", request.app.state.case)
    values.setdefault("min_blur", auth.MIN_BLUR)
    values.setdefault("max_blur", auth.MAX_BLUR)
    return templates.TemplateResponse(request, name, values)
