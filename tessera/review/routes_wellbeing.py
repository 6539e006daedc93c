"""Exposure care: each reviewer's own figures, the supervisor's view of everyone's, the daily budget."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from tessera.audit import append
from tessera.review import exposure
from tessera.review.deps import Examiner, User, Writer, render
from tessera.review.routes_review import _media

router = APIRouter()


@router.get("/wellbeing")
def wellbeing(request: Request, ctx: User) -> Response:
    mine = exposure.status(ctx.db, ctx.user.name, ctx.token)
    # Examiners supervise: they see every reviewer's figures; everyone else sees only their own.
    team = exposure.everyone(ctx.db, mine.day) if ctx.user.role == "examiner" else None
    return render(request, "wellbeing.html", ctx, mine=mine, team=team, budget=exposure.budget(ctx.db))


@router.post("/wellbeing/budget")
def set_budget(
    ctx: Examiner,
    seconds: Annotated[int, Form(ge=60, le=86_400)],
    reveals: Annotated[int, Form(ge=0, le=100_000)] = 0,
    break_after: Annotated[float, Form(ge=1.0, le=10.0)] = exposure.BREAK_AFTER,
) -> Response:
    exposure.set_budget(ctx.db, ctx.user.name, seconds, reveals, break_after)
    ctx.db.commit()
    return RedirectResponse("/wellbeing", status_code=303)


@router.get("/api/exposure/me")
def me(ctx: User) -> dict[str, object]:
    return exposure.status(ctx.db, ctx.user.name, ctx.token).as_dict()


class ReportIn(BaseModel):
    sha256: str = Field(max_length=64)
    #: What the browser measured; the server clamps it (see tessera.review.exposure.report_seconds).
    seconds: float


@router.post("/api/exposure")
def report(ctx: Writer, body: ReportIn) -> dict[str, object]:
    _media(ctx, body.sha256)
    counted = exposure.report_seconds(ctx.db, ctx.token, body.sha256, body.seconds)
    ctx.db.commit()
    return {"counted": counted, **exposure.status(ctx.db, ctx.user.name, ctx.token).as_dict()}


class BreakIn(BaseModel):
    action: str = Field(pattern="^(shown|dismissed)$")


@router.post("/api/exposure/break")
def take_break(ctx: Writer, body: BreakIn) -> dict[str, object]:
    """The break interstitial: being asked and dismissing it are both audited."""
    if body.action == "shown":
        st = exposure.status(ctx.db, ctx.user.name)
        append(
            ctx.db,
            ctx.user.name,
            "exposure-break-asked",
            ctx.user.name,
            {"day": st.day, "ratio": round(st.ratio, 4)},
        )
    else:
        st = exposure.dismiss_break(ctx.db, ctx.user.name)
    ctx.db.commit()
    return st.as_dict()
