"""Request and response bodies of the hub API (they are also its OpenAPI description).

Push items forbid unknown fields: a client that tries to send a file name, a path or an account gets
a 422 naming the field, instead of the hub quietly dropping (or worse, keeping) it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")]
Hex40 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{40}$")]
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


def storable(value: str) -> bool:
    """A string both databases can keep: no NUL (PostgreSQL refuses it), valid UTF-8 (no lone surrogates)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _storable_strings(self) -> Strict:
        # JSON may carry "\u0000" and lone surrogates; caught here they are a 422, not a database 500.
        for name, value in self:
            if isinstance(value, str) and not storable(value):
                raise ValueError(f"{name}: NUL characters and lone surrogates are not allowed")
        return self


class ContributionFields(Strict):
    category: Annotated[int, Field(ge=0, le=99)] | None = None
    profile: Annotated[str, Field(max_length=40, pattern=r"^[A-Za-z0-9._-]+$")] | None = None
    series: Annotated[str, Field(max_length=200)] | None = None
    victim_identified: bool | None = None
    first_seen: date | None = None

    def stored(self) -> dict[str, Any]:
        data = self.model_dump(exclude_unset=True)
        if data.get("first_seen") is not None:
            data["first_seen"] = data["first_seen"].isoformat()
        return data


class PushItem(ContributionFields):
    sha256: Hex64
    md5: Hex32 | None = None
    sha1: Hex40 | None = None
    pdq: Hex64 | None = None
    pdq_quality: Annotated[int, Field(ge=0, le=100)] | None = None

    def stored(self) -> dict[str, Any]:
        data = self.model_dump()
        if data.get("first_seen") is not None:
            data["first_seen"] = data["first_seen"].isoformat()
        return data


class PushRequest(Strict):
    #: Chosen by the client (Tessera uses a digest of the batch): a retried batch is recognised.
    batch_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    items: list[PushItem]


class PushResult(BaseModel):
    batch_id: str
    items: int
    #: Entries the hub did not have; null for a token without the query scope (it may not learn
    #: whether a hash is known). 0 for a replayed batch, which changes nothing.
    new_entries: int | None
    #: This agency's contributions added or changed (0 for a replayed batch).
    changed: int
    duplicate_batch: bool


class QueryRequest(Strict):
    md5: list[Hex32] = []
    sha1: list[Hex40] = []
    sha256: list[Hex64] = []
    pdq: list[Hex64] = []
    pdq_radius: Annotated[int, Field(ge=0, le=31)] = 31


class EntryView(BaseModel):
    sha256: str
    md5: str | None
    sha1: str | None
    pdq: str | None
    pdq_quality: int | None
    category: int | None
    profile: str | None
    series: str | None
    victim_identified: bool | None
    conflict: bool
    first_seen: str | None


class MatchView(EntryView):
    distance: int


class QueryResult(BaseModel):
    algorithm: str
    value: str
    matches: list[MatchView]


class QueryResponse(BaseModel):
    results: list[QueryResult]


class ChangeView(EntryView):
    withdrawn: bool
    seq: int


class ChangesResponse(BaseModel):
    entries: list[ChangeView]
    cursor: int
    more: bool


# ------------------------------------------------------------------------------------- administration

AgencyCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", examples=["NL-NP"])]
Scope = Literal["contribute", "query", "admin"]


class AgencyCreate(Strict):
    #: Short and unique: a country code, then the unit (``NL-NP``, ``DE-BKA``).
    code: AgencyCode
    name: Annotated[str, Field(min_length=1, max_length=200)]


class AgencyView(BaseModel):
    id: int
    code: str
    name: str
    created_at: datetime
    active_tokens: int


class TokenCreate(Strict):
    scopes: Annotated[list[Scope], Field(min_length=1)]
    label: Annotated[str, Field(max_length=200)] | None = None


class TokenView(BaseModel):
    """A token as listed: its first characters to tell it apart, never the token or its hash."""

    id: int
    agency: str
    prefix: str
    scopes: list[str]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class TokenIssued(TokenView):
    #: The token itself, in this answer only: the hub keeps just its SHA-256.
    token: str
