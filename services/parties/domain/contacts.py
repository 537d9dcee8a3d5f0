"""Contact points: phone numbers, e-mail addresses, messenger handles and postal addresses.

Everything is reduced to one canonical form (E.164, lower-case e-mail, lower-case Telegram username)
because contact points are what duplicate detection and inbound-interaction matching look up by.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from services.parties.domain.errors import DomainValueError
from services.parties.domain.text import clean_text

PHONE_RAW_MAX = 40
_PHONE_CHARS = re.compile(r"[0-9+\-(). /]+")
_IMPOSSIBLE_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "has too few digits",
    phonenumbers.ValidationResult.TOO_LONG: "has too many digits",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits for its country",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "lacks the area code",
}


def normalize_phone(raw: str, default_region: str = "RU") -> str:
    """Return the number in E.164, accepting the ways people actually type it.

    Numbers without a country code are read in ``default_region``; for Russia that includes the trunk
    prefix 8 ("8 916 ..."). Letters are refused rather than read as vanity digits or as an extension,
    because E.164 has no extension and silently dropping one would lose data.
    """
    text = clean_text(raw, max_length=PHONE_RAW_MAX)
    if not text:
        raise DomainValueError("must not be empty")
    if not _PHONE_CHARS.fullmatch(text):
        raise DomainValueError("may contain only digits, spaces, '+', '-', '(', ')', '.' and '/'")
    if default_region not in phonenumbers.SUPPORTED_REGIONS:
        raise DomainValueError(f"unknown default region {default_region!r}")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise DomainValueError("is not a phone number") from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in _IMPOSSIBLE_REASONS:
        raise DomainValueError(_IMPOSSIBLE_REASONS[possible])
    if not phonenumbers.is_valid_number(number):
        raise DomainValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_region(e164: str) -> str:
    """The region (ISO 3166-1 alpha-2) a number belongs to: "+7 7xx" is KZ, not RU.

    Returns "" for numbers that belong to no single region (global services such as +800).
    """
    text = clean_text(e164, max_length=PHONE_RAW_MAX)
    if not text.startswith("+"):
        raise DomainValueError("must be in E.164 form (+ and digits)")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise DomainValueError("is not a phone number") from None
    region = phonenumbers.region_code_for_number(number)
    return "" if region in (None, "ZZ", "001") else region


# --- e-mail ---------------------------------------------------------------------------------------

EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64
_DOMAIN_MAX = 253
# RFC 5322 dot-atom text; quoted local parts ("john doe"@x) are refused: nobody uses them for real
# customers and every downstream mailer handles them differently. Non-ASCII letters (RFC 6531) are
# allowed in the local part.
_LOCAL_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _check_local_part(local: str) -> None:
    if not local:
        raise DomainValueError("the part before '@' is empty")
    if len(local.encode("utf-8")) > EMAIL_LOCAL_MAX:
        raise DomainValueError(f"the part before '@' must be at most {EMAIL_LOCAL_MAX} characters")
    for atom in local.split("."):
        if not atom:
            raise DomainValueError("the part before '@' has a misplaced dot")
        ascii_only = "".join(ch for ch in atom if ch.isascii())
        if ascii_only and not _LOCAL_ATOM.fullmatch(ascii_only):
            raise DomainValueError("the part before '@' contains a character not allowed in e-mail")
        if any(not ch.isascii() and not (ch.isalnum() or unicodedata.category(ch)[0] == "M") for ch in atom):
            raise DomainValueError("the part before '@' contains a character not allowed in e-mail")


def _ascii_domain(domain: str) -> str:
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain:
        raise DomainValueError("the domain is empty")
    if "." not in domain:
        raise DomainValueError("the domain must contain a dot")
    if not domain.isascii():
        try:
            # The stdlib IDNA 2003 codec: nameprep (which lower-cases) plus punycode, no new dependency.
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise DomainValueError("the domain is not a valid internationalized domain name") from None
    domain = domain.lower()
    if len(domain) > _DOMAIN_MAX:
        raise DomainValueError(f"the domain must be at most {_DOMAIN_MAX} characters")
    labels = domain.split(".")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise DomainValueError(
                "domain labels must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen"
            )
    if labels[-1].isdigit():
        raise DomainValueError("the domain must be a name, not an IP address")
    return domain


def normalize_email(raw: str) -> str:
    """Return the address fully lower-cased, the domain in punycode.

    The whole address is lower-cased, not just the domain: RFC 5321 allows case-sensitive mailboxes,
    but no mail provider our customers use has them, and one canonical form is what lets uniqueness,
    duplicate matching and inbound e-mail routing be simple equality lookups. The domain is stored in
    ASCII (punycode) because that is what mail headers carry and what matching sees.
    """
    text = clean_text(raw, max_length=EMAIL_MAX)
    if not text:
        raise DomainValueError("must not be empty")
    if any(ch.isspace() for ch in text):
        raise DomainValueError("must not contain spaces")
    if text.count("@") != 1:
        raise DomainValueError("must contain exactly one '@'")
    local, domain = text.split("@")
    _check_local_part(local)
    address = f"{local.lower()}@{_ascii_domain(domain)}"
    if len(address) > EMAIL_MAX:
        raise DomainValueError(f"at most {EMAIL_MAX} characters")
    return address


# --- messengers -----------------------------------------------------------------------------------

MESSENGERS: frozenset[str] = frozenset({"TELEGRAM", "WHATSAPP", "VIBER"})
_TELEGRAM = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")


def normalize_messenger_handle(messenger: str, handle: str) -> str:
    """Return the handle in the form the messenger identifies accounts by.

    Telegram usernames are case-insensitive, so they are stored lower-cased; WhatsApp and Viber
    accounts are phone numbers, so they get the same E.164 form as phone contact points and match them.
    """
    kind = messenger.strip().upper()
    if kind not in MESSENGERS:
        raise DomainValueError("messenger must be one of: TELEGRAM, WHATSAPP, VIBER")
    if kind != "TELEGRAM":
        return normalize_phone(handle)
    text = clean_text(handle, max_length=PHONE_RAW_MAX)
    username = text.removeprefix("@")
    if not username:
        raise DomainValueError("must not be empty")
    if not username.isascii() or not _TELEGRAM.fullmatch(username):
        raise DomainValueError("a Telegram username is 5-32 characters of A-Z, a-z, 0-9 and _ starting with a letter")
    return username.lower()


# --- postal addresses -----------------------------------------------------------------------------

ADDRESS_PART_MAX = 200
ADDRESS_FULL_MAX = 500
POSTAL_CODE_MAX = 20
ADDRESS_KEYS: tuple[str, ...] = (
    "country_code",
    "postal_code",
    "region",
    "city",
    "street",
    "house",
    "flat",
    "full_text",
)
_RU_POSTAL = re.compile(r"[0-9]{6}")
_HAS_HOUSE_PREFIX = re.compile(r"(?i)^(д\.|д\s|дом\b)")
_HAS_FLAT_PREFIX = re.compile(r"(?i)^(кв\.|кв\s|квартира\b)")


def _part(name: str, value: str, max_length: int = ADDRESS_PART_MAX) -> str:
    try:
        return clean_text(value, max_length=max_length)
    except DomainValueError as exc:
        raise DomainValueError(exc.reason, field=name) from None


def normalize_address(
    country_code: str,
    postal_code: str,
    region: str,
    city: str,
    street: str,
    house: str,
    flat: str,
    full_text: str,
) -> dict[str, str]:
    """Clean an address and make sure it has a printable one-line form.

    Errors carry ``field`` (e.g. "postal_code"). ``full_text`` is composed from the parts when the
    client sent none, so every stored address can be shown and fuzzy-matched by one string; Russian
    addresses get the "д." / "кв." prefixes a Russian reader expects, other countries a plain list.
    Postal codes are upper-cased (alphanumeric codes such as UK ones are written that way).
    """
    country = _part("country_code", country_code, 8).upper()
    if not country:
        raise DomainValueError("is required", field="country_code")
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise DomainValueError("must be an ISO 3166-1 alpha-2 country code", field="country_code")
    parts = {
        "country_code": country,
        "postal_code": _part("postal_code", postal_code, POSTAL_CODE_MAX).upper(),
        "region": _part("region", region),
        "city": _part("city", city),
        "street": _part("street", street),
        "house": _part("house", house),
        "flat": _part("flat", flat),
        "full_text": _part("full_text", full_text, ADDRESS_FULL_MAX),
    }
    if country == "RU" and parts["postal_code"] and not _RU_POSTAL.fullmatch(parts["postal_code"]):
        raise DomainValueError("must be 6 digits for a Russian address", field="postal_code")
    if not parts["city"] and not parts["full_text"]:
        raise DomainValueError("city or full_text is required", field="city")
    if not parts["full_text"]:
        composed = _compose(parts)
        if len(composed) > ADDRESS_FULL_MAX:
            raise DomainValueError(
                f"the composed address is longer than {ADDRESS_FULL_MAX} characters", field="full_text"
            )
        parts["full_text"] = composed
    return parts


def _compose(parts: dict[str, str]) -> str:
    house, flat = parts["house"], parts["flat"]
    if parts["country_code"] == "RU":
        if house and not _HAS_HOUSE_PREFIX.match(house):
            house = f"д. {house}"
        if flat and not _HAS_FLAT_PREFIX.match(flat):
            flat = f"кв. {flat}"
    items = (parts["postal_code"], parts["region"], parts["city"], parts["street"], house, flat)
    return ", ".join(item for item in items if item)


# Whole-word spellings unified in the comparison key. Beyond the obvious ones, the other common
# Russian street-type and building abbreviations are included because they vary as much.
_KEY_WORDS = {
    "улица": "ул",
    "дом": "д",
    "квартира": "кв",
    "город": "г",
    "проспект": "пр",
    "пркт": "пр",
    "прт": "пр",
    "переулок": "пер",
    "корпус": "к",
    "корп": "к",
    "строение": "стр",
    "область": "обл",
}
_KEY_HYPHENATED = re.compile(r"\bпр-к?т\b")
_KEY_NON_ALNUM = re.compile(r"[\W_]+")
_KEY_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def address_key(parts: dict[str, str]) -> str:
    """A comparison key under which trivially different spellings of one address coincide.

    Built from the structured parts when there is a city (the postal code is left out: it is the part
    most often missing or wrong), else from the free text. Letters and digits are split ("д5" and
    "д. 5", "5а" and "5 а" agree); everything else is only lower-casing, ё→е and abbreviations.
    """
    country = parts.get("country_code", "").lower()
    if parts.get("city"):
        text = " ".join(parts.get(k, "") for k in ("region", "city", "street", "house", "flat"))
    else:
        text = parts.get("full_text", "")
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    text = _KEY_HYPHENATED.sub(" пр ", text)
    text = _KEY_NON_ALNUM.sub(" ", text)
    text = _KEY_LETTER_DIGIT.sub(" ", text)
    words = [_KEY_WORDS.get(word, word) for word in text.split()]
    return " ".join([country, *words]).strip()
