"""Media detail and account pages: every fact behind an item or an account, with its evidence row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from tessera.review import clusters, data
from tessera.review.deps import User, render
from tessera.review.routes_review import _media
from tessera.store import models as m
from tessera.store.models_video import VideoFrameRow

router = APIRouter()
LIMIT = 500  # rows per section; the counts shown are always complete


def _ts(value: float | None) -> str:
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds") if value is not None else ""


@router.get("/media/{sha256}")
def media_detail(request: Request, ctx: User, sha256: str) -> Response:
    media = _media(ctx, sha256)
    s = ctx.db
    files = [
        {
            "device": f.device_id,
            "locator": f.locator,
            "size": f.size,
            "mtime": _ts(f.mtime),
            "atime": _ts(f.atime),
            "ctime": _ts(f.ctime),
            "crtime": _ts(f.crtime),
            "deleted": f.deleted,
        }
        for f in s.scalars(
            select(m.File).where(m.File.sha256 == sha256).order_by(m.File.device_id).limit(LIMIT)
        )
    ]
    acc, chat = aliased(m.Account), aliased(m.Chat)
    messages = s.execute(
        select(
            m.Message.time,
            acc.id,
            acc.key,
            acc.display_name,
            chat.id,
            chat.title,
            chat.key,
            m.Message.device_id,
            m.Message.locator,
            m.Message.forwarded,
        )
        .join(chat, chat.id == m.Message.chat_id)
        .outerjoin(acc, acc.id == m.Message.sender_id)
        .where(m.Message.media_sha256 == sha256)
        .order_by(m.Message.time, m.Message.id)
        .limit(LIMIT)
    ).all()
    matches = s.execute(
        select(
            m.HashSet.name,
            m.Match.algorithm,
            m.Match.distance,
            m.HashEntry.value,
            m.HashEntry.category,
            m.HashEntry.series,
            m.Match.detail,
        )
        .join(m.HashEntry, m.HashEntry.id == m.Match.entry_id)
        .join(m.HashSet, m.HashSet.id == m.Match.hashset_id)
        .where(m.Match.sha256 == sha256)
        .order_by(m.Match.distance)
    ).all()
    frames = (
        s.scalar(select(func.count()).select_from(VideoFrameRow).where(VideoFrameRow.sha256 == sha256))
        if media.kind == "video"
        else None
    )
    decisions = list(
        s.scalars(select(m.Decision).where(m.Decision.sha256 == sha256).order_by(m.Decision.id.desc()))
    )
    cid = clusters.cluster_of(s, sha256)
    members = [x for x in clusters.members(s, cid) if x != sha256][:LIMIT] if cid else []
    return render(
        request,
        "media.html",
        ctx,
        media=media,
        files=files,
        messages=messages,
        matches=matches,
        frames=frames,
        decisions=decisions,
        cluster=cid,
        members=members,
        category=data.current_category(s, sha256),
        categories=data.CATEGORIES,
    )


@router.get("/account/{account_id}")
def account_page(
    request: Request, ctx: User, account_id: Annotated[int, Path(ge=0, le=2**63 - 1)]
) -> Response:
    s = ctx.db
    account = s.get(m.Account, account_id)
    if account is None:
        raise HTTPException(404, "no such account")
    groups = s.execute(
        select(m.Chat.id, m.Chat.title, m.Chat.key, m.Membership.role, m.Membership.joined_at)
        .join(m.Membership, m.Membership.chat_id == m.Chat.id)
        .where(m.Membership.account_id == account_id)
        .order_by(m.Chat.title)
    ).all()
    devices = sorted(
        set(
            s.scalars(
                select(m.Sighting.device_id).where(
                    m.Sighting.entity == "account", m.Sighting.entity_id == account_id
                )
            )
        )
    )
    posts = s.execute(
        select(m.Message.media_sha256, func.min(m.Message.time), func.count())
        .where(m.Message.sender_id == account_id, m.Message.media_sha256.is_not(None))
        .group_by(m.Message.media_sha256)
        .order_by(func.min(m.Message.time))
        .limit(LIMIT)
    ).all()
    n_messages = s.scalar(select(func.count()).where(m.Message.sender_id == account_id)) or 0
    return render(
        request,
        "account.html",
        ctx,
        account=account,
        groups=groups,
        devices=devices,
        posts=posts,
        n_messages=n_messages,
    )
