"""clean_text: the gate every free-text field passes through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.parties.domain.errors import DomainValueError
from services.parties.domain.text import clean_text


def test_strips_and_collapses_whitespace() -> None:
    assert clean_text("  Иван \t  Петров\u00a0 ", max_length=50) == "Иван Петров"


def test_empty_is_allowed() -> None:
    assert clean_text("   ", max_length=10) == ""


def test_nfc_makes_decomposed_letters_equal() -> None:
    assert clean_text("и\u0306", max_length=5) == "й"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x9b"])
def test_rejects_control_characters(char: str) -> None:
    with pytest.raises(DomainValueError, match=r"control character \(U\+"):
        clean_text(f"ab{char}cd", max_length=50)


def test_nul_reason_names_the_code_point() -> None:
    with pytest.raises(DomainValueError) as info:
        clean_text("a\x00b", max_length=5)
    assert str(info.value) == "contains a control character (U+0000)"


def test_rejects_bidi_override() -> None:
    with pytest.raises(DomainValueError, match="bidirectional"):
        clean_text("abc\u202edcba", max_length=50)


def test_rejects_byte_order_mark() -> None:
    with pytest.raises(DomainValueError, match=r"byte order mark \(U\+FEFF\)"):
        clean_text("\ufeffabc", max_length=50)


def test_rejects_lone_surrogate() -> None:
    with pytest.raises(DomainValueError, match="invalid unicode"):
        clean_text("ab\udc80", max_length=50)


def test_rejects_non_string() -> None:
    with pytest.raises(DomainValueError, match="must be text"):
        clean_text(b"abc", max_length=5)  # type: ignore[arg-type]


def test_length_is_checked_after_cleaning() -> None:
    assert clean_text("  " + "a" * 200 + "  ", max_length=200) == "a" * 200
    with pytest.raises(DomainValueError) as info:
        clean_text("a" * 201, max_length=200)
    assert str(info.value) == "at most 200 characters"


def test_ten_thousand_characters_rejected() -> None:
    with pytest.raises(DomainValueError, match="at most 200 characters"):
        clean_text("x" * 10_000, max_length=200)


def test_newlines_rejected_inside_single_line_fields() -> None:
    assert clean_text("\nabc\r\n", max_length=10) == "abc"
    with pytest.raises(DomainValueError, match="single line"):
        clean_text("abc\ndef", max_length=10)
    with pytest.raises(DomainValueError, match="single line"):
        clean_text("abc\u2028def", max_length=10)


def test_newlines_kept_when_allowed() -> None:
    text = "  line one  \r\n  line   two \r third\n"
    assert clean_text(text, max_length=100, allow_newlines=True) == "line one\nline two\nthird"


@given(st.text(max_size=300))
def test_idempotent(value: str) -> None:
    try:
        once = clean_text(value, max_length=300, allow_newlines=True)
    except DomainValueError:
        return
    assert clean_text(once, max_length=300, allow_newlines=True) == once
    assert once == once.strip()
    assert "\x00" not in once
