"""Turning the identifiers sources write into accounts: phone numbers to E.164 (with ``phonenumbers``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_JID_SERVERS = ("@s.whatsapp.net", "@c.us", "@whatsapp.net")


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    country: str | None  # ISO 3166 alpha-2, from the number


def _valid(num: phonenumbers.PhoneNumber) -> Phone | None:
    if not phonenumbers.is_valid_number(num):
        return None
    return Phone(
        phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(num),
    )


def normalise_phone(text: str | None, region: str | None = None) -> Phone | None:
    """A phone number in any written form -> E.164 and country, or None if it is not one.

    Handles ``+34 612 34 56 78``, ``0034612345678``, ``(+34) 612-345-678``, WhatsApp JIDs
    (``34612345678@s.whatsapp.net``: the digits are international) and national forms
    (``612 34 56 78``, ``612345678@s.whatsapp.net`` as some tools write them) when ``region``
    (the country the device or capture belongs to) is given. Invisible direction marks are ignored.
    """
    if not text:
        return None
    s = _MARKS.sub("", text).strip()
    jid = False
    for server in _JID_SERVERS:
        if s.endswith(server):
            s, jid = s[: -len(server)], True
            break
    if "@" in s:  # group JIDs, @lid identities, e-mail-like names: not phone numbers
        return None
    s = s.split(":", 1)[0] if jid else s  # multi-device JIDs: 34612345678:12@s.whatsapp.net
    digits = re.sub(r"[^\d+]", "", s)
    if not digits or len(re.sub(r"\D", "", digits)) < 6 or re.search(r"[A-Za-z]", s):
        return None
    candidates: list[tuple[str, str | None]] = []
    if digits.startswith("+"):
        candidates.append((digits, None))
    elif digits.startswith("00"):
        candidates.append(("+" + digits[2:], None))
        if region:
            candidates.append((digits, region))
    else:
        if jid or not region:
            candidates.append(("+" + digits, None))
        if region:
            candidates.append((digits, region))
    for number, hint in candidates:
        try:
            parsed = phonenumbers.parse(number, hint)
        except phonenumbers.NumberParseException:
            continue
        phone = _valid(parsed)
        if phone:
            return phone
    return None
