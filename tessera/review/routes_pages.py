"""The operation dashboard, the audit log and the (hash-only) decisions export."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from tessera.audit import AuditError, append, verify
from tessera.review import charts, data, exposure
from tessera.review.deps import Examiner, User, render
from tessera.store import models as m

router = APIRouter()


@router.get("/")
def dashboard(request: Request, ctx: User) -> Response:
    d = data.dashboard(ctx.db)
    cat_labels = {str(k): f"{k} {v}" for k, v in data.CATEGORIES.items()}
    figures = {
        "devices": charts.bars(d["devices"]),
        "kinds": charts.bars(d["media_by_kind"]),
        "by_cat": charts.bars({cat_labels.get(k, k): v for k, v in d["hits_by_category"].items()}),
        "by_alg": charts.bars(d["hits_by_algorithm"]),
        "suspects": charts.bars(d["suspects_by_status"]),
        "suspect_countries": charts.bars(d["suspects_by_country"]),
        "account_countries": charts.bars(d["accounts_by_country"]),
    }
    # Issue 14: the share of pictures categorised without anyone looking (hash sets, cluster decisions).
    unseen = exposure.never_shown(ctx.db)
    return render(request, "dashboard.html", ctx, d=d, fig=figures, unseen=unseen)


@router.get("/audit")
def audit_page(
    request: Request,
    ctx: User,
    before: Annotated[int | None, Query(le=2**63 - 1)] = None,
    check: bool = False,
) -> Response:
    q = select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(200)
    if before:
        q = q.where(m.AuditEntry.id < before)
    rows = list(ctx.db.scalars(q))
    result = None
    if check:
        try:
            result = (True, f"chain intact: {verify(ctx.db):,} entries")
        except AuditError as exc:
            result = (False, str(exc))
    total = ctx.db.scalar(select(func.count()).select_from(m.AuditEntry)) or 0
    older = select(m.AuditEntry.id).where(m.AuditEntry.id < rows[-1].id).limit(1) if rows else None
    has_older = older is not None and ctx.db.scalar(older) is not None
    return render(request, "audit.html", ctx, rows=rows, total=total, result=result, has_older=has_older)


@router.post("/export/decisions.csv")
def export_decisions(ctx: Examiner) -> Response:
    """Hashes and categories only (files never leave a case); the export itself is audited."""
    latest = (
        select(m.Decision.sha256, func.max(m.Decision.id).label("id")).group_by(m.Decision.sha256).subquery()
    )
    rows = ctx.db.execute(
        select(
            m.Media.sha256,
            m.Media.md5,
            m.Media.sha1,
            m.Decision.category,
            m.Decision.profile,
            m.Decision.user,
        )
        .join(latest, latest.c.id == m.Decision.id)
        .join(m.Media, m.Media.sha256 == m.Decision.sha256)
        .order_by(m.Media.sha256)
    ).all()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["sha256", "md5", "sha1", "category", "profile", "decided_by"])
    w.writerows(rows)
    append(ctx.db, ctx.user.name, "export", "decisions.csv", {"rows": len(rows)})
    ctx.db.commit()
    return Response(
        buf.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="decisions.csv"'},
    )
