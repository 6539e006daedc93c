"""Local users, passwords (argon2id), server-side sessions and per-session CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tessera.review.signin import LOCK_AFTER
from tessera.store.models_review import ROLES, ReviewUser, WebSession

#: A working day; a reviewer signs in again the next morning.
SESSION_HOURS = 12
DEFAULT_BLUR = 12
#: The lightest level still hides a picture's layout: at 4 px about 70 % of the detail finer than an
#: 8 x 8 grid survived (shapes and composition were recognisable); at 12 px about a third does.
MIN_BLUR, MAX_BLUR = 12, 40

_hasher = PasswordHasher()
# A fixed hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY = _hasher.hash("not-a-password")


class AuthError(ValueError):
    pass


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(session: Session, name: str, role: str, password: str, blur: int = DEFAULT_BLUR) -> ReviewUser:
    name = name.strip()
    if not name or len(name) > 100:
        raise AuthError("a user name needs 1 to 100 characters")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise AuthError("a password needs at least 8 characters")
    if session.scalar(select(ReviewUser).where(ReviewUser.name == name)) is not None:
        raise AuthError(f"user {name!r} already exists")
    user = ReviewUser(name=name, role=role, password_hash=_hasher.hash(password), blur=clamp_blur(blur))
    session.add(user)
    session.flush()
    return user


def clamp_blur(blur: int) -> int:
    return max(MIN_BLUR, min(MAX_BLUR, int(blur)))


def authenticate(
    session: Session, name: str, password: str, lock_after: int = LOCK_AFTER
) -> tuple[ReviewUser | None, str]:
    """The user and "ok", or None and why: "wrong", "locked" (this failure locked the account),
    "is-locked" (already locked: even the right password is refused) or "disabled".

    The caller shows one message for every refusal, so a guesser cannot tell a locked or unknown name
    from a wrong password; the reason goes to the audit log only."""
    user = session.scalar(select(ReviewUser).where(ReviewUser.name == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY, password)
        right = True
    except (VerificationError, InvalidHashError):
        right = False
    if user is None:
        return None, "wrong"
    if user.locked_at is not None:
        return None, "is-locked"
    if not right:
        # Counted in SQL, not read-modify-write: concurrent guesses each count (the UPDATE takes the row
        # lock), and the refresh sees a lock another request has just committed.
        session.execute(
            update(ReviewUser)
            .where(ReviewUser.id == user.id)
            .values(failed_logins=ReviewUser.failed_logins + 1)
        )
        session.refresh(user)
        if user.locked_at is not None:
            return None, "is-locked"
        if user.failed_logins >= lock_after:
            user.locked_at = datetime.now(UTC)
            return None, "locked"
        return None, "wrong"
    if user.disabled:
        return None, "disabled"
    user.failed_logins = 0
    return user, "ok"


def unlock(user: ReviewUser) -> bool:
    """Clear a lock and the failure count; False when the account was not locked."""
    was = user.locked_at is not None
    user.locked_at = None
    user.failed_logins = 0
    return was


def start_session(session: Session, user: ReviewUser) -> tuple[str, str]:
    """A new (cookie token, csrf token); expired sessions are swept at the same time."""
    now = datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    session.flush()
    return token, csrf


def lookup(session: Session, token: str | None) -> tuple[ReviewUser, WebSession] | None:
    if not token:
        return None
    ws = session.get(WebSession, _token_hash(token))
    if ws is None:
        return None
    expires = ws.expires_at if ws.expires_at.tzinfo else ws.expires_at.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        return None
    user = session.get(ReviewUser, ws.user_id)
    if user is None or user.disabled:
        return None
    return user, ws


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


def csrf_ok(expected: str, given: str | None) -> bool:
    # Compared as UTF-8 bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a
    # 500), and a token typed by an attacker may hold anything.
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))
