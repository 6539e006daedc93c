"""Turning the identifiers sources write into accounts: phone numbers to E.164 (with ``phonenumbers``).

The rule is that an E.164 value consists of exactly the digits the source wrote, nothing added and
nothing dropped: an investigation may be sent to that number's door. So only international forms are
normalised (``+34 612 34 56 78``, ``0034612345678``, a WhatsApp JID's user part, which WhatsApp always
writes with its country code); national forms (``612 34 56 78``) are kept as written and get no
E.164, whatever country the case is in, because reading them needs digits the source does not have.
A well-formed number that ``phonenumbers`` judges invalid today (a Brazilian mobile of before 2016,
with eight digits) keeps its digits as E.164, the country of its calling code and ``valid=False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_JID_SERVERS = ("@s.whatsapp.net", "@c.us", "@whatsapp.net")
#: What may stand around the digits of a written number: spaces, dashes, dots, brackets.
_DECORATION = re.compile(r"[\s\u00a0\u2010-\u2015().\-/]")
#: E.164 allows at most 15 digits; the shortest numbers in service have 7 with their country code.
_MIN_DIGITS, _MAX_DIGITS = 7, 15


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str  # "+" and exactly the international digits of the raw identifier
    country: str | None  # ISO 3166 alpha-2 of the calling code (None for non-geographic codes)
    valid: bool = True  # False: well-formed, but not a valid number by today's numbering plans


def jid_user(jid: str) -> str:
    """The person part of a WhatsApp JID: ``556199120446.0:0@s.whatsapp.net`` -> ``556199120446``.

    Multi-device JIDs carry ``.agent`` and ``:device`` after the number; they name a device of the
    same person, and the suffix digits are never part of the number."""
    user = jid.partition("@")[0]
    return user.split(":", 1)[0].split(".", 1)[0]


def international_digits(text: str | None) -> str | None:
    """The international digits a raw identifier writes, or None when it writes no international
    phone number (a national form, a name, a group or ``@lid`` id)."""
    if not text:
        return None
    s = _MARKS.sub("", text).strip()
    for server in _JID_SERVERS:
        if s.endswith(server):
            user = jid_user(s)
            return user if user.isdigit() and _MIN_DIGITS <= len(user) <= _MAX_DIGITS else None
    if "@" in s:
        return None
    body = _DECORATION.sub("", s)
    if body.startswith("+"):
        digits = body[1:]
    elif body.startswith("00"):
        digits = body[2:]
    else:
        return None  # national form (or not a number): reading it would need digits it lacks
    if not digits.isdigit() or not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return None
    return digits


def normalise_phone(text: str | None, region: str | None = None) -> Phone | None:
    """An international phone number in any written form -> E.164 and country, or None.

    ``region`` is accepted for callers that know the case's country but is not used to complete
    national forms: that would add digits the source never wrote (see the module docstring).
    """
    del region
    digits = international_digits(text)
    if digits is None:
        return None
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None  # no such calling code: not a phone number
    e164 = "+" + digits
    valid = phonenumbers.is_valid_number(parsed) and (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == e164
    )
    if valid:
        country = phonenumbers.region_code_for_number(parsed)
    else:
        country = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return Phone(e164, country if country and country not in ("ZZ", "001") else None, valid)
