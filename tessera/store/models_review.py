"""Tables of the review workstation (issue 4): local users, web sessions and near-duplicate clusters.

Decisions themselves live in the existing ``decision`` table and every human action in ``audit_log``;
these tables only hold what the web layer needs to know who is signed in and what belongs together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.store.models import Base, utcnow

ROLES = ("examiner", "reviewer", "viewer")


class ReviewUser(Base):
    __tablename__ = "review_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # examiner | reviewer | viewer
    #: argon2id encoded hash (salt and parameters included), never the password.
    password_hash: Mapped[str] = mapped_column(String(200))
    #: Gaussian blur radius (pixels on a 256 px thumbnail) this user sees; never 0.
    blur: Mapped[int] = mapped_column(Integer, default=12)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Wrong passwords since the last successful sign-in (or unlock); at the threshold the account locks.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Set when the account locked; only an examiner (`tessera user unlock`) clears it.
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A signed-in browser. Only a SHA-256 of the cookie is stored, so a copy of the database cannot be
    used to impersonate anyone; the CSRF token is per session."""

    __tablename__ = "review_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("review_user.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MediaCluster(Base):
    """Media SHA-256 -> near-duplicate cluster (PDQ distance); the id is the smallest member SHA-256."""

    __tablename__ = "media_cluster"

    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(64), index=True)
