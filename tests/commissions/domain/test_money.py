"""Money is exact: minor units, ISO 4217 exponents, half-even rounding; the fixed-point Num rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.errors import CalculationError
from services.commissions.domain.money import Money, from_minor, round_half_even, split_minor, to_minor


def test_round_half_even_in_integers() -> None:
    assert [round_half_even(n, 2) for n in (1, 3, 5, 7, -1, -3, -5)] == [0, 2, 2, 4, 0, -2, -2]
    assert round_half_even(25, 10) == 2 and round_half_even(35, 10) == 4 and round_half_even(26, 10) == 3
    assert split_minor(45, 500_000) == 22  # 50% of 0.45 = 0.225 -> 0.22
    assert split_minor(123457, 700_000) == 86420


def test_amounts_are_taken_exactly_or_refused() -> None:
    assert to_minor("1234.56", "RUB") == 123456
    assert to_minor("1234", "JPY") == 1234
    assert to_minor("1.234", "KWD") == 1234
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        to_minor("0.001", "RUB")
    with pytest.raises(ValueError, match="ISO 4217"):
        to_minor("1", "RUR")
    with pytest.raises(ValueError, match="plain decimal"):
        to_minor("1e3", "RUB")
    assert from_minor(-5, "RUB") == Decimal("-0.05")


def test_money_values() -> None:
    assert Money.of("10.10", "RUB") + Money.of("0.05", "RUB") == Money(1015, "RUB")
    assert str(Money(1015, "RUB")) == "10.15 RUB"
    with pytest.raises(ValueError, match="cannot combine"):
        Money(1, "RUB") + Money(1, "EUR")


def test_fixed_point_operations() -> None:
    assert fp.mul(Decimal("0.000005"), Decimal("0.5")) == Decimal("0.000002")
    assert fp.div(Decimal(1), Decimal(0)) == 0
    assert fp.to_minor(Decimal("0.125"), 2) == 12 and fp.to_minor(Decimal("0.135"), 2) == 14
    assert fp.from_minor(12345, 2) == Decimal("123.45")
    with pytest.raises(CalculationError):
        fp.mul(Decimal(10**7), Decimal(10**7))
    with pytest.raises(ValueError, match="decimal places"):
        fp.num("0.1234567")
