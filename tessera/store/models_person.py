"""Persons: the accounts one person holds on several platforms, grouped with the evidence of the link.

Accounts stay one per platform and identifier (``account``); a person never merges them. A person is
computed after ingest by a rule (today one: the same valid E.164 phone number), recomputed whole and
idempotently (``tessera.network.persons``), and each link keeps what it rests on: the raw values the
number was read from and the sources that show the account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tessera.store.models import Base, utcnow


class Person(Base):
    """One person, named by the rule and value that group their accounts (``phone:+34612345678``)."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("key", name="uq_person_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    #: The rule that made it: ``same-phone`` (accounts whose valid E.164 numbers are equal).
    rule: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PersonLink(Base):
    """One account of a person, with the evidence: the rule, the number, and ``evidence`` =
    ``{"field", "raw": [{"value", "form"}], "sources": [{"device", "locator", "parser"}],
    "sources_total"}``."""

    __tablename__ = "person_link"
    __table_args__ = (UniqueConstraint("person_id", "account_id", name="uq_person_link"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
