"""The formula language: grammar, fixed-point semantics, hostile input, and the scalar evaluator (the
oracle's) agreeing with the polars compilation (the engine's) on random formulas and values."""

from __future__ import annotations

import re
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.errors import CalculationError, ExpressionError
from services.commissions.domain.expressions import MAX_DEPTH, MAX_LENGTH, Formula, Type

D = Decimal
NAMES = {"revenue": Type.NUMBER, "quota": Type.NUMBER, "deals": Type.NUMBER, "vip": Type.BOOLEAN}


def ev(text: str, **env: Decimal | bool) -> Decimal | bool:
    f = Formula.parse(text)
    assert f.check(NAMES, Type.BOOLEAN if isinstance(f.evaluate({**defaults(), **env}), bool) else Type.NUMBER) == []
    return f.evaluate({**defaults(), **env})


def defaults() -> dict[str, Decimal | bool]:
    return {"revenue": D("150000"), "quota": D("100000"), "deals": D(7), "vip": False}


def vector(text: str, env: dict[str, Decimal | bool], materialize: bool = False) -> Decimal | bool | None:
    """The engine's evaluation of one row: raw Nums in, raw Num (or bool, or None for overflow) out."""
    frame = pl.DataFrame({k: [v if isinstance(v, bool) else fp.to_raw(v)] for k, v in env.items()})
    counter = [0]

    def keep(e: pl.Expr) -> pl.Expr:
        nonlocal frame
        counter[0] += 1
        name = f"_t{counter[0]}"
        if not e.meta.root_names():
            e = pl.when(pl.lit(True)).then(e).otherwise(e)
        frame = frame.with_columns(e.alias(name))
        return pl.col(name)

    expr = Formula.parse(text).to_polars(pl.col, keep if materialize else None)
    value = frame.select(expr.alias("out")).item()
    if value is None or isinstance(value, bool):
        return value
    return fp.from_raw(value)


def test_precedence_and_associativity() -> None:
    assert ev("1 + 2 * 3") == D(7)
    assert ev("(1 + 2) * 3") == D(9)
    assert ev("10 - 4 - 3") == D(3)  # left to right
    assert ev("100 / 10 / 5") == D(2)
    assert ev("-2 * -3") == D(6)
    assert ev("not vip and revenue > quota or false") is True


def test_fixed_point_rounding_is_half_even_at_six_decimals() -> None:
    assert ev("1 / 3") == D("0.333333")
    assert ev("2 / 3") == D("0.666667")
    with pytest.raises(ExpressionError, match="6 decimal places"):
        Formula.parse("0.0000005")
    assert ev("0.000005 * 0.5") == D("0.000002")  # 0.0000025 -> half-even -> 0.000002
    assert ev("0.000015 * 0.5") == D("0.000008")  # 0.0000075 -> 0.000008
    assert ev("round(2.5, 0) + round(3.5, 0)") == D(6)  # 2 + 4
    assert ev("round(revenue / quota, 1)") == D("1.5")


def test_division_by_zero_is_zero() -> None:
    assert ev("revenue / quota", quota=D(0)) == D(0)
    assert vector("revenue / quota", {**defaults(), "quota": D(0)}) == D(0)


def test_functions_and_laziness() -> None:
    assert ev("min(revenue, quota, 5)") == D(5)
    assert ev("max(revenue, quota)") == D(150000)
    assert ev("abs(quota - revenue)") == D(50000)
    assert ev("if(revenue >= quota, 1, 2)") == D(1)
    # The branch not taken is not evaluated, so its overflow does not matter (in both implementations).
    huge = "if(revenue < quota, 9000000000 * 9000000000, 0)"
    assert ev(huge) == D(0)
    assert vector(huge, defaults()) == D(0)
    assert ev("vip and 9000000000 * 9000000000 > 0") is False


def test_overflow_stops_the_calculation() -> None:
    with pytest.raises(CalculationError):
        ev("revenue * revenue * revenue")
    assert vector("revenue * revenue * revenue", defaults()) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("revenue +", "expected a number"),
        ("revenue $ quota", "unexpected character"),
        ("(revenue", re.escape("expected ')'")),
        ("revenue quota", "unexpected"),
        ("1 < 2 < 3", "cannot be chained"),
        ("sqrt(4)", "unknown function"),
        ("min", "needs arguments"),
        ("x" * 70, "longer than 64"),
        ("1" * 14, "beyond the range"),
    ],
)
def test_syntax_errors_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        Formula.parse(text)


def test_hostile_input_is_bounded() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        Formula.parse("1+" * MAX_LENGTH + "1")
    with pytest.raises(ExpressionError, match="nested deeper"):
        Formula.parse("(" * 200 + "1" + ")" * 200)
    with pytest.raises(ExpressionError, match="nested deeper"):
        Formula.parse("-" * 500 + "1")
    with pytest.raises(ExpressionError, match="more than 256"):
        Formula.parse("+".join(["1"] * 600))
    # Just inside the limits still works, in both implementations.
    deep = "(" * (MAX_DEPTH - 1) + "revenue" + ")" * (MAX_DEPTH - 1)
    assert ev(deep) == D(150000)
    chain = "+".join(["deals"] * 120)
    assert ev(chain) == D(840)
    assert vector(chain, defaults(), materialize=True) == D(840)


def test_type_and_name_checking() -> None:
    def errors(text: str, expected: Type = Type.NUMBER) -> list[str]:
        return [e.reason for e in Formula.parse(text).check(NAMES, expected)]

    assert errors("revenue / target") == ["unknown name 'target'"]
    assert errors("revenue and vip", Type.BOOLEAN) == ["expected a boolean, found a number"]
    assert errors("vip + 1") == ["expected a number, found a boolean"]
    assert errors("if(revenue, 1, 2)") == ["expected a boolean, found a number"]
    assert errors("if(vip, 1, vip)") == ["if() branches differ: number and boolean"]
    assert errors("abs(1, 2)") == ["abs() takes 1 arguments, got 2"]
    assert errors("round(revenue, deals)") == ["round() digits must be a whole literal from 0 to 6"]
    assert errors("revenue > quota") == ["formula must give a number, it gives a boolean"]
    assert Formula.parse("revenue / quota * 100").names == {"revenue", "quota"}


# ---------------------------------------------------------------------------- scalar == vector, randomly

NUMS = ["revenue", "quota", "deals"]


@st.composite
def numbers(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            return draw(st.sampled_from(NUMS))
        return str(draw(st.decimals(min_value=0, max_value=10**6, places=draw(st.integers(0, 6)))))
    kind = draw(st.integers(0, 9))
    a, b = draw(numbers(depth - 1)), draw(numbers(depth - 1))
    if kind < 4:
        return f"({a} {'+-*/'[kind]} {b})"
    if kind == 4:
        return f"-{a}"
    if kind == 5:
        return f"min({a}, {b}, {draw(numbers(depth - 1))})"
    if kind == 6:
        return f"max({a}, {b})"
    if kind == 7:
        return f"abs({a})"
    if kind == 8:
        return f"round({a}, {draw(st.integers(0, 6))})"
    return f"if({draw(conditions(depth - 1))}, {a}, {b})"


@st.composite
def conditions(draw: st.DrawFn, depth: int) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0 or depth == 0:
        return f"{draw(numbers(0))} {draw(st.sampled_from(['<', '<=', '>', '>=', '==', '!=']))} {draw(numbers(0))}"
    if kind == 1:
        return f"not ({draw(conditions(depth - 1))})"
    if kind == 2:
        return "vip"
    return f"({draw(conditions(depth - 1))} {draw(st.sampled_from(['and', 'or']))} {draw(conditions(depth - 1))})"


values = st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(numbers(), values, values, values, st.booleans(), st.booleans())
def test_engine_and_oracle_evaluate_formulas_identically(
    text: str, revenue: Decimal, quota: Decimal, deals: Decimal, vip: bool, materialize: bool
) -> None:
    env: dict[str, Decimal | bool] = {"revenue": revenue, "quota": quota, "deals": deals, "vip": vip}
    try:
        expected: Decimal | bool | None = Formula.parse(text).evaluate(env)
    except CalculationError:
        expected = None
    assert vector(text, env, materialize) == expected
