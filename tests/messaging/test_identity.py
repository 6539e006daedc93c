import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.messaging.identity import international_digits, jid_user, normalise_phone
from tessera.synth.network import make_network

INTERNATIONAL_FORMS = [
    "+34 612 34 56 78",
    "0034612345678",
    "34612345678@s.whatsapp.net",
    "34612345678:12@s.whatsapp.net",
    "34612345678.0:3@s.whatsapp.net",
    "(+34) 612-345-678",
    "\u202a+34 612 34 56 78\u202c",
]


def test_international_forms_become_one_spanish_account() -> None:
    phones = {normalise_phone(f) for f in INTERNATIONAL_FORMS}
    assert len(phones) == 1
    phone = phones.pop()
    assert phone is not None and (phone.e164, phone.country, phone.valid) == ("+34612345678", "ES", True)


def test_national_forms_are_never_completed_even_with_a_region() -> None:
    # Completing "612 34 56 78" with Spain's 34 would add digits the source never wrote.
    assert normalise_phone("612 34 56 78", region="ES") is None
    assert normalise_phone("0612345678", region="NL") is None


def test_device_suffix_is_never_part_of_the_number() -> None:
    """The real case: 556199120446.0:0 once became +5561991204460, a different valid number."""
    phone = normalise_phone("556199120446.0:0@s.whatsapp.net")
    assert phone is not None and phone.e164 == "+556199120446" and phone.country == "BR"
    assert jid_user("556199120446.0:0@s.whatsapp.net") == "556199120446"
    assert jid_user("34612345678:7@s.whatsapp.net") == "34612345678"


def test_pre_2016_brazilian_mobile_keeps_digits_country_and_a_flag() -> None:
    # Eight-digit mobile (before the ninth digit was added in 2016): invalid today, still evidence.
    phone = normalise_phone("556181827831@s.whatsapp.net")
    assert phone is not None and (phone.e164, phone.country, phone.valid) == ("+556181827831", "BR", False)
    assert normalise_phone("5561981827831@s.whatsapp.net") == normalise_phone("+55 61 98182-7831")
    assert normalise_phone("+55 61 98182-7831").valid  # type: ignore[union-attr]


def test_a_jid_is_international_whatever_it_looks_like() -> None:
    phone = normalise_phone("612345678@s.whatsapp.net")  # some tools drop the country code: not ours
    assert phone is None or phone.e164 == "+612345678"


@pytest.mark.parametrize(
    "text",
    [
        "Member 0001",
        "120363400000000001@g.us",
        "1234567890123@lid",
        "",
        "+1",
        "abc123",
        "+999 1234 5678",  # no such calling code
        "+34 612 34 56 78 90 12 34 5",  # more than 15 digits
        "status_me",
        "-1",
    ],
)
def test_non_numbers_are_refused(text: str) -> None:
    assert normalise_phone(text, region="ES") is None


def test_generated_numbers_keep_their_country() -> None:
    net = make_network(3, n_people=30)
    for p in net.people.values():
        got = normalise_phone(p.wa_jid)
        assert got is not None and got.e164 == p.phone and got.country == p.country and got.valid


_DECOR = st.sampled_from([" ", "-", ".", "(", ")", "\u00a0", "\u202a", "\u202c", "/"])


@given(
    st.lists(st.one_of(st.sampled_from("0123456789"), _DECOR), max_size=24),
    st.sampled_from(["+", "00", "", "(+"]),
    st.sampled_from(["", "@s.whatsapp.net", ":3@s.whatsapp.net", ".0:1@s.whatsapp.net", "@lid", "@c.us"]),
)
def test_e164_is_exactly_the_digits_written(body: list[str], prefix: str, suffix: str) -> None:
    """Whatever the form, an E.164 value is "+" and the international digits of the raw text:
    nothing added (no country code from a region, no suffix digits), nothing dropped."""
    text = prefix + "".join(body) + suffix
    phone = normalise_phone(text, region="ES")
    if phone is None:
        return
    digits = international_digits(text)
    assert digits is not None and phone.e164 == "+" + digits
    assert digits in re.sub(r"\D", "", text)
    if phone.valid:
        parsed = phonenumbers.parse(phone.e164)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone.e164
