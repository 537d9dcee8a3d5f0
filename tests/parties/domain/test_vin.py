"""VIN normalization and the North American check digit."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.parties.domain.errors import DomainValueError
from services.parties.domain.vin import VIN_ALPHABET, make_vin, normalize_vin, vin_check_digit

NA_VIN = "1M8GDM9AXKP042788"  # the classic example: check character X


def test_north_american_vin_valid() -> None:
    assert normalize_vin(NA_VIN) == NA_VIN
    assert normalize_vin(" 1m8gdm9a-xkp 042788 ") == NA_VIN
    assert vin_check_digit(NA_VIN) == "X"


def test_north_american_one_char_change_invalid() -> None:
    with pytest.raises(DomainValueError, match="check digit"):
        normalize_vin("1M8GDM9AXKP042789")
    with pytest.raises(DomainValueError, match="check digit"):
        normalize_vin("1M8GDM9A9KP042788")


def test_european_and_russian_vins_not_checked() -> None:
    assert normalize_vin("XTA210930Y2696789") == "XTA210930Y2696789"  # Lada
    assert normalize_vin("WVWZZZ1JZ3W386752") == "WVWZZZ1JZ3W386752"  # VW, 'Z' in position 9


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("1M8GDM9AXKP04278", "must be 17 characters"),
        ("1M8GDM9AXKP0427880", "must be 17 characters"),
        ("1M8GDM9AXKO042788", "I, O or Q"),
        ("IM8GDM9AXKP042788", "I, O or Q"),
        ("1M8GDM9AXKP04278Ж", "only the letters A-Z and digits"),
        ("1M8GDM9AXKP04278_", "only the letters A-Z and digits"),
        ("1M8GDM9AXKP0427\x008", "control character"),
        ("X" * 10_000, "at most 40"),
        ("'; DROP TABLE parties; --", "must be 17 characters"),
    ],
)
def test_vin_rejected(raw: str, reason: str) -> None:
    with pytest.raises(DomainValueError, match=reason):
        normalize_vin(raw)


def test_make_vin_rejects_bad_wmi() -> None:
    with pytest.raises(DomainValueError):
        make_vin(random.Random(1), "XTI")


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(["XTA", "1FA", "5YJ", "WVW", "Z94"]))
def test_generated_vins_are_valid_and_idempotent(seed: int, wmi: str) -> None:
    vin = make_vin(random.Random(seed), wmi)
    assert vin.startswith(wmi)
    assert normalize_vin(vin) == vin
    assert normalize_vin(normalize_vin(vin.lower())) == vin
    assert vin[8] == vin_check_digit(vin)


_VALUES = dict(
    zip(
        "0123456789ABCDEFGHJKLMNPRSTUVWXYZ",
        [*range(10), *range(1, 9), *range(1, 6), 7, 9, *range(2, 10)],
        strict=True,
    )
)


@given(st.integers(min_value=0, max_value=2**32), st.data())
def test_single_char_change_in_na_vin(seed: int, data: st.DataObject) -> None:
    vin = make_vin(random.Random(seed), "1FA")
    position = data.draw(st.integers(min_value=1, max_value=16), label="position")
    char = data.draw(st.sampled_from([c for c in VIN_ALPHABET if c != vin[position]]), label="char")
    mutant = vin[:position] + char + vin[position + 1 :]
    caught = position == 8 or _VALUES[char] != _VALUES[vin[position]]
    if caught:
        with pytest.raises(DomainValueError, match="check digit"):
            normalize_vin(mutant)
    else:  # e.g. A and J both count as 1: ISO 3779 cannot see that change
        assert normalize_vin(mutant) == mutant
