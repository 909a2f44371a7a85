"""Mask personal data (emails, public IPv4 addresses, phone numbers) with placeholder tokens.

Like FineWeb and StarCoder we replace rather than drop: the sentence stays readable and a
model never sees the real value. Each kind is one pre-compiled pattern plus a cheap validity
check, tuned to leave look-alikes alone: version strings and dates are not IPs (octets over 255,
leading zeros, a fifth dotted part or a "version"/"v" prefix all veto), and years, prices,
ranges and ISBNs are not phone numbers (a phone needs a "+"/"00" country code, the US
3-3-4 shape, or a trunk "0" prefix with separators, and 7 to 15 digits in all, as E.164 allows).
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field

from crisol.core.params import Section


class PiiParams(Section):
    """Which kinds of personal data to mask, and the tokens that replace them."""

    emails: bool = True
    ips: bool = True
    phones: bool = True
    email_token: str = Field("<EMAIL>", min_length=1)
    ip_token: str = Field("<IP>", min_length=1)
    phone_token: str = Field("<PHONE>", min_length=1)


_LOCAL = r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
# An address in angle brackets ("Jane <jane@x.org>") is replaced brackets and all, so the
# result reads "Jane <EMAIL>" and not "Jane <<EMAIL>>".
EMAIL = re.compile(rf"<{_LOCAL}@{_DOMAIN}>|(?<![\w.+-]){_LOCAL}@{_DOMAIN}(?![\w-])")
# Obfuscated addresses: "jane [at] example [dot] org", "jane (at) example.org".
EMAIL_OBFUSCATED = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+\s*[\[(]\s*at\s*[\])]\s*"
    r"[A-Za-z0-9-]+(?:\s*(?:[\[(]\s*dot\s*[\])]|\.)\s*[A-Za-z0-9-]+)+",
    re.IGNORECASE,
)
_AT_WORD = re.compile(r"[\[(]\s*at\s*[\])]", re.IGNORECASE)
# Every IP address and phone number holds a run of at least 7 digits and separators; most
# pages have none (years, dates and prices are shorter runs), and this one cheap scan lets
# them skip the two costlier patterns.
_NUMERIC_RUN = re.compile(r"\d[\d ().\-/]{5,}\d")
# Image names like "logo@2x.png" look like addresses; their "TLD" gives them away.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"})

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"  # 0-255, no leading zeros
IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
# "version 2.4.1.10", "v1.2.3.4", "build 10.0.19041.1" are version numbers.
_VERSION_PREFIX = re.compile(r"\b(?:version|ver\.?|v|build|release|rev\.?)\s*$", re.IGNORECASE)

_SEP = r"[ .\-]"
PHONE = re.compile(
    r"(?<![\w+/.,-])(?:"
    # International: +CC or 00CC, an optional "(0)" or bracketed area code, then digit groups.
    rf"(?:\+|00)[1-9]\d{{0,2}}(?:{_SEP}?\(0?\d{{1,4}}\))?(?:{_SEP}?\d{{1,5}}){{2,6}}"
    # North American: optional 1, (415) 555-0132 / 415-555-0132 / 415.555.0132 / 415 555 0132.
    rf"|(?:1{_SEP})?\(\d{{3}}\)\s?\d{{3}}[ .\-]\d{{4}}"
    r"|(?:1([ .\-]))?\d{3}([ .\-])\d{3}\2\d{4}"
    # National with a trunk "0": 020 7946 0958, 06 12 34 56 78, 030/901820-0 (no dots: dates).
    r"|0\d{1,4}[ /\-]\d{2,8}(?:[ \-]\d{2,8}){0,4}"
    r")(?![\w]|[.,/-]\d)"
)
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15
_NATIONAL_MIN_DIGITS = 9  # below this a trunk-prefixed number is more often a date or a code


def _email_ok(match: re.Match) -> bool:
    address = match.group(0).strip("<>")
    return address.rsplit(".", 1)[-1].lower() not in _FILE_SUFFIXES


def _ip_ok(match: re.Match) -> bool:
    before = match.string[max(0, match.start() - 12) : match.start()]
    if _VERSION_PREFIX.search(before):
        return False
    # Private, loopback and reserved addresses identify no one; only public ones are masked.
    return ipaddress.IPv4Address(match.group(0)).is_global


# A digit group right before or after the match means it is a slice of a longer number
# (an IBAN, a card number, a table of figures), not a phone number.
_GROUP_BEFORE = re.compile(r"\d[ .\-]$")
_GROUP_AFTER = re.compile(r"^[ .\-]\d")


def _phone_ok(match: re.Match) -> bool:
    number, text = match.group(0), match.string
    if _GROUP_BEFORE.search(text[max(0, match.start() - 2) : match.start()]) or _GROUP_AFTER.match(
        text[match.end() : match.end() + 2]
    ):
        return False
    digits = sum(c.isdigit() for c in number)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
        return False
    if number.startswith("0") and not number.startswith("00"):
        return digits >= _NATIONAL_MIN_DIGITS
    return True


def _always(_match: re.Match) -> bool:
    return True


def _sub(pattern: re.Pattern, check, token: str, text: str) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match) -> str:
        nonlocal count
        if check(match):
            count += 1
            return token
        return match.group(0)

    return pattern.sub(replace, text), count


def mask_pii(text: str, params: PiiParams) -> tuple[str, dict[str, int]]:
    """Return `text` with personal data replaced and the number of replacements by kind."""
    counts = {"email": 0, "ip": 0, "phone": 0}
    # Cheap pre-checks skip whole regex passes on the many pages with no '@', "[at]" or long
    # numeric run.
    if params.emails:
        if "@" in text:
            text, counts["email"] = _sub(EMAIL, _email_ok, params.email_token, text)
        if _AT_WORD.search(text):
            text, n = _sub(EMAIL_OBFUSCATED, _always, params.email_token, text)
            counts["email"] += n
    has_numbers = _NUMERIC_RUN.search(text) is not None
    if params.ips and has_numbers:
        text, counts["ip"] = _sub(IPV4, _ip_ok, params.ip_token, text)
    if params.phones and has_numbers:
        text, counts["phone"] = _sub(PHONE, _phone_ok, params.phone_token, text)
    return text, counts
