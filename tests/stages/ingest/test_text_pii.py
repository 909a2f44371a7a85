"""PII masking: what must be masked, and the look-alikes that must be left alone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stages.ingest.pii import PiiParams, mask_pii

PARAMS = PiiParams()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Write to jane.doe@example.com today.", "Write to <EMAIL> today."),
        ("Jane Doe <jane@example.org> wrote back.", "Jane Doe <EMAIL> wrote back."),
        ("Contact: first.last+news@mail.example.co.uk.", "Contact: <EMAIL>."),
        ("mail john [at] example [dot] com now", "mail <EMAIL> now"),
        ("mail john (at) example.org now", "mail <EMAIL> now"),
    ],
)
def test_emails_masked(text, expected):
    masked, counts = mask_pii(text, PARAMS)
    assert masked == expected
    assert counts == {"email": 1, "ip": 0, "phone": 0}


@pytest.mark.parametrize(
    "text",
    [
        "the retina logo@2x.png file",
        "at the meeting we sat (at) the back",  # "(at)" with no address around it
        "an @mention and a lone @ sign",
        "user@localhost is not a public address",
    ],
)
def test_email_lookalikes_kept(text):
    assert mask_pii(text, PARAMS) == (text, {"email": 0, "ip": 0, "phone": 0})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The server at 8.8.8.8 answered.", "The server at <IP> answered."),
        ("Requests from 203.0.114.7, then 1.1.1.1.", "Requests from <IP>, then <IP>."),
        ("host=93.184.216.34:443", "host=<IP>:443"),
    ],
)
def test_public_ipv4_masked(text, expected):
    masked, counts = mask_pii(text, PARAMS)
    assert masked == expected
    assert counts["ip"] == expected.count("<IP>")


@pytest.mark.parametrize(
    "text",
    [
        "router 192.168.1.1 and 10.0.0.7 and 127.0.0.1",  # private and loopback: identify no one
        "released version 1.2.3.4 last week",  # version strings
        "upgrade to v2.4.1.10 now",
        "semantic 1.2.3 is not an address",
        "999.1.1.1 has an octet over 255",
        "1.2.3.4.5 has five parts",
        "zero-padded 01.02.03.04 is a date or code",
        "on 12.03.2024 at 10:30",
    ],
)
def test_ip_lookalikes_kept(text):
    assert mask_pii(text, PARAMS)[0] == text


@pytest.mark.parametrize(
    "text",
    [
        "Call +44 20 7946 0958 now.",
        "Call +1 (415) 555-0132 now.",
        "Call (415) 555-0132 now.",
        "Call 415-555-0132 now.",
        "Call 415.555.0132 now.",
        "Call 1-800-555-0199 now.",
        "Call +49 30 901820 now.",
        "Call 0049 30 901820 now.",
        "Call +33 6 12 34 56 78 now.",
        "Call 06 12 34 56 78 now.",
        "Call 020 7946 0958 now.",
    ],
)
def test_phones_masked(text):
    masked, counts = mask_pii(text, PARAMS)
    assert masked == "Call <PHONE> now."
    assert counts == {"email": 0, "ip": 0, "phone": 1}


@pytest.mark.parametrize(
    "text",
    [
        "In 1999-2004 prices rose to $1,234,567.",
        "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2",
        "dated 2024-01-15 and 01-02-2024",
        "a population of 1 234 567 people",
        "scores 3-1, 2-2 and 10-20 in 2019-2020",
        "IBAN DE89 3704 0044 0532 0130 00",
        "card 4111 1111 1111 1111",
        "coordinates 51.5074, -0.1278",
    ],
)
def test_phone_lookalikes_kept(text):
    assert mask_pii(text, PARAMS)[0] == text


def test_all_kinds_counted_together():
    text = "Mail a@example.com or b@example.net, call +44 20 7946 0958, server 8.8.4.4."
    masked, counts = mask_pii(text, PARAMS)
    assert masked == "Mail <EMAIL> or <EMAIL>, call <PHONE>, server <IP>."
    assert counts == {"email": 2, "ip": 1, "phone": 1}


def test_kinds_can_be_switched_off_and_tokens_changed():
    text = "Mail a@example.com, call +44 20 7946 0958, server 8.8.4.4."
    params = PiiParams(emails=False, phones=False, ip_token="[ip]")
    masked, counts = mask_pii(text, params)
    assert masked == "Mail a@example.com, call +44 20 7946 0958, server [ip]."
    assert counts == {"email": 0, "ip": 1, "phone": 0}


def test_text_without_pii_is_returned_unchanged():
    text = "Nothing personal here: 42 apples in 2023, at 3.5% interest."
    assert mask_pii(text, PARAMS) == (text, {"email": 0, "ip": 0, "phone": 0})


def test_params_validation():
    with pytest.raises(ValidationError):
        PiiParams(email_token="")
    with pytest.raises(ValidationError):
        PiiParams(credit_cards=True)
