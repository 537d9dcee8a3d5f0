"""Vehicle identification numbers (ISO 3779), for the vehicles parties own."""

from __future__ import annotations

import random
import re

from services.parties.domain.errors import DomainValueError
from services.parties.domain.text import clean_text

VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_SEPARATORS = re.compile(r"[\s\-]+")
_VALUES: dict[str, int] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Model-year codes used in position 10 (no I, O, Q, U, Z or 0).
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / 49 CFR 565 check character for position 9: "0"-"9" or "X" for 10."""
    total = sum(_VALUES[ch] * w for ch, w in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_vin(raw: str) -> str:
    """Return the VIN upper-cased without separators, verifying the check digit where it is used.

    Only North American VINs (first character 1-5) are required to carry a check digit; European
    and Russian manufacturers put anything in position 9, so checking it there would reject real cars.
    """
    text = clean_text(raw, max_length=40)
    vin = _SEPARATORS.sub("", text).upper()
    if not vin:
        raise DomainValueError("must not be empty")
    if len(vin) != 17:
        raise DomainValueError("must be 17 characters")
    if not _VIN.fullmatch(vin):
        if any(ch in "IOQ" for ch in vin):
            raise DomainValueError("must not contain the letters I, O or Q")
        raise DomainValueError("must contain only the letters A-Z and digits")
    if vin[0] in "12345" and vin[8] != vin_check_digit(vin):
        raise DomainValueError("check digit (position 9) does not match")
    return vin


def make_vin(rng: random.Random, wmi: str = "XTA") -> str:
    """A valid VIN with ``wmi`` as manufacturer code; the check digit is always right."""
    if len(wmi) != 3 or any(ch not in VIN_ALPHABET for ch in wmi):
        raise DomainValueError("wmi must be 3 VIN characters")
    vds = "".join(rng.choice(VIN_ALPHABET) for _ in range(5))
    vis = rng.choice(_YEAR_CODES) + rng.choice(VIN_ALPHABET) + f"{rng.randrange(1_000_000):06d}"
    draft = wmi + vds + "0" + vis
    return draft[:8] + vin_check_digit(draft) + draft[9:]
