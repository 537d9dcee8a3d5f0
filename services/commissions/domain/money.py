"""Exact money: integer minor units (kopecks) with an ISO 4217 currency; never float (house rule 6).

The rounding rule of the whole service is *half-even to the minor unit* ("banker's rounding"): it has no
upward bias over millions of payout lines, and it is what `Decimal.quantize(ROUND_HALF_EVEN)` does, so
the vectorized engine and the row-by-row oracle can be checked against each other to the kopeck.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

# Active ISO 4217 codes and their minor-unit exponents (the standard's "minor unit" column).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD "
    "CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA "
    "MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
    "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD "
    "TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)
CURRENCY_EXPONENTS: dict[str, int] = {
    **{c: 0 for c in _EXPONENT_0.split()},
    **{c: 2 for c in _EXPONENT_2.split()},
    **{c: 3 for c in _EXPONENT_3.split()},
    **{c: 4 for c in _EXPONENT_4.split()},
}

# A single transaction may not exceed 10^12 minor units (10 billion roubles): the bound that keeps
# split arithmetic (amount x percent in millionths) inside a signed 64-bit integer.
MAX_TRANSACTION_MINOR = 10**12

_AMOUNT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def is_currency(code: str) -> bool:
    """Whether ``code`` is an active ISO 4217 alphabetic code."""
    return code in CURRENCY_EXPONENTS


def exponent(currency: str) -> int:
    """Digits after the decimal point of the currency's minor unit (RUB 2, JPY 0, KWD 3)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code") from None


def round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-even to an integer, in pure integer arithmetic.

    The engine uses the same floor-division formula on Int128 columns (`fixed_point.rhe_div`)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """An exact amount in major units as minor units; refuses sub-minor precision instead of rounding.

    Input money is taken as given: rounding a client's 10.005 silently would hide a data error."""
    exp = exponent(currency)
    if isinstance(amount, str):
        text = amount.strip()
        if not _AMOUNT_TEXT.fullmatch(text):
            raise ValueError(f"{amount!r} is not a plain decimal amount")
        amount = Decimal(text)
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a decimal amount") from None
    if not value.is_finite():
        raise ValueError("amount must be finite")
    with localcontext() as ctx:
        ctx.prec = 60
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {exp} decimal places for {currency}")
        return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Minor units back to an exact Decimal in major units (12345 RUB -> Decimal('123.45'))."""
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def split_minor(amount_minor: int, percent_millionths: int) -> int:
    """A share of an amount: ``amount x percent / 100`` with the percent given in millionths of one
    (100% = 1_000_000), rounded half-even to the minor unit. Used for split credits and deposits."""
    return round_half_even(amount_minor * percent_millionths, 1_000_000)


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of one currency in integer minor units; adding different currencies is an error."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        exponent(self.currency)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        return cls(to_minor(amount, currency), currency)

    @property
    def amount(self) -> Decimal:
        return from_minor(self.minor, self.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def rounded(value: Decimal) -> int:
    """A Decimal rounded half-even to an integer (the scalar side of the rounding rule)."""
    with localcontext() as ctx:
        ctx.prec = 80
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
