"""tessera user add | list | disable | enable | unlock: local users of the review workstation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from tessera.cli.common import CaseOpt, fail, load_case, out
from tessera.cli.listing import FormatOpt, render
from tessera.logs import redact

app = typer.Typer(help="Local users of the review workstation.", no_args_is_help=True)


@app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="User name (sign-in name).")],
    role: Annotated[str, typer.Option("--role", help="examiner | reviewer | viewer")] = "reviewer",
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Read the password from this file (first line).")
    ] = None,
    blur: Annotated[int, typer.Option("--blur", help="Blur radius of thumbnails (12-40).")] = 12,
    case: CaseOpt = None,
) -> None:
    """Add a user; the password is asked for twice unless --password-file is given."""
    from tessera.audit import append
    from tessera.review.auth import AuthError, add_user

    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    redact(password)
    handle = load_case(case)
    with handle.session() as s:
        try:
            user = add_user(s, name, role, password, blur)
        except AuthError as exc:
            fail(str(exc))
        # Who may see and decide is itself an accountable decision: audited like the rest.
        append(s, "cli", "user add", user.name, {"role": user.role})
        s.commit()
    out.print(f"user {name} added ({role})")


@app.command("list")
def list_cmd(fmt: FormatOpt = "table", case: CaseOpt = None) -> None:
    from tessera.store.models_review import ReviewUser

    handle = load_case(case)
    with handle.session() as s:
        rows = [
            {
                "name": u.name,
                "role": u.role,
                "blur": u.blur,
                "disabled": u.disabled,
                "locked": u.locked_at is not None,
                "created": str(u.created_at),
            }
            for u in s.scalars(select(ReviewUser).order_by(ReviewUser.name))
        ]
    render(rows, fmt, ["name", "role", "blur", "disabled", "locked", "created"], "Users")


def _set_disabled(name: str, disabled: bool, case: Path | None) -> None:
    from sqlalchemy import delete

    from tessera.audit import append
    from tessera.store.models_review import ReviewUser, WebSession

    handle = load_case(case)
    with handle.session() as s:
        user = s.scalar(select(ReviewUser).where(ReviewUser.name == name))
        if user is None:
            fail(f"no user {name!r} in this case")
        user.disabled = disabled
        if disabled:
            # Signed-in browsers lose access at once, not when their session would have expired.
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
        append(s, "cli", "user disable" if disabled else "user enable", user.name, {})
        s.commit()
    out.print(f"user {name} {'disabled' if disabled else 'enabled'}")


@app.command("disable")
def disable_cmd(name: Annotated[str, typer.Argument(help="User name.")], case: CaseOpt = None) -> None:
    """Stop a user signing in and end their sessions; their decisions and audit rows stay."""
    _set_disabled(name, True, case)


@app.command("enable")
def enable_cmd(name: Annotated[str, typer.Argument(help="User name.")], case: CaseOpt = None) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(name, False, case)


@app.command("unlock")
def unlock_cmd(name: Annotated[str, typer.Argument(help="User name.")], case: CaseOpt = None) -> None:
    """Let a user locked by too many wrong passwords sign in again (audited)."""
    from tessera.audit import append
    from tessera.review.auth import unlock
    from tessera.store.models_review import ReviewUser

    handle = load_case(case)
    with handle.session() as s:
        user = s.scalar(select(ReviewUser).where(ReviewUser.name == name))
        if user is None:
            fail(f"no user {name!r} in this case")
        failures = user.failed_logins
        if not unlock(user):
            fail(f"user {name} is not locked")
        # Whoever can run this command has the case open: that is the examiner who answers for it.
        append(s, "cli", "user unlock", user.name, {"failed_logins": failures})
        s.commit()
    out.print(f"user {name} unlocked")
