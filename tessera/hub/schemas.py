"""Request and response bodies of the hub API (they are also its OpenAPI description).

Push items forbid unknown fields: a client that tries to send a file name, a path or an account gets
a 422 naming the field, instead of the hub quietly dropping (or worse, keeping) it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tessera.hashing.algorithms import ALGORITHMS

_PDQ = ALGORITHMS.get("pdq")


def _hex(algorithm: str) -> str:
    """The pattern of one algorithm's values, any case (the hub stores them lower-case)."""
    return rf"^[0-9a-fA-F]{{{ALGORITHMS.get(algorithm).hex_length}}}$"


Md5Hex = Annotated[str, Field(pattern=_hex("md5"))]
Sha1Hex = Annotated[str, Field(pattern=_hex("sha1"))]
Sha256Hex = Annotated[str, Field(pattern=_hex("sha256"))]
PdqHex = Annotated[str, Field(pattern=_hex("pdq"))]


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
    sha256: Sha256Hex
    md5: Md5Hex | None = None
    sha1: Sha1Hex | None = None
    pdq: PdqHex | None = None
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
    md5: list[Md5Hex] = []
    sha1: list[Sha1Hex] = []
    sha256: list[Sha256Hex] = []
    pdq: list[PdqHex] = []
    # No wider than the match threshold: a wider search costs far more and finds mostly unrelated images.
    pdq_radius: Annotated[int, Field(ge=0, le=_PDQ.default_threshold)] = _PDQ.default_threshold


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
