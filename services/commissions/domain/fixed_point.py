"""`Num`: the fixed-point decimal of plan arithmetic, implemented twice on purpose.

Every fractional figure of a plan (measure values in major units, rates, attainment, multipliers,
formula results) is a decimal with exactly six fractional digits. Each multiplication or division is
rounded half-even back to six digits; addition and subtraction are exact. The magnitude of every value
must stay below 9 x 10^12 (nine trillion roubles), otherwise the run fails with `CalculationError`
rather than produce a wrong figure. Division by zero yields 0 (the "safe divide" of SAP Commissions
and Xactly): an unset quota gives zero attainment instead of stopping the whole run.

The *scalar* side (used by the reference oracle and by single evaluations) works on `Decimal`; the
*vector* side (used by the engine) works on polars Int64 columns holding the value x 10^6, with
Int128 intermediates and the integer half-even formula of `money.round_half_even`. Two independent
implementations of one rule are what lets the property tests catch a rounding slip.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import polars as pl

from services.commissions.domain.errors import CalculationError

SCALE = 6
ONE = 10**SCALE
LIMIT_RAW = 9 * 10**18  # |raw| must stay below this: fits Int64, and raw x raw fits Int128
LIMIT = Decimal(LIMIT_RAW).scaleb(-SCALE)
QUANTUM = Decimal(1).scaleb(-SCALE)
RAW = pl.Int64
WIDE = pl.Int128


# --------------------------------------------------------------------------- scalar (Decimal) side


def num(value: Decimal | int | str) -> Decimal:
    """A literal as a Num; more than six fractional digits is refused, not rounded (it is plan data)."""
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError("not a finite number")
    with localcontext() as ctx:
        ctx.prec = 80
        if d.quantize(QUANTUM) != d:
            raise ValueError(f"{value} has more than {SCALE} decimal places")
        return check(d.quantize(QUANTUM))


def check(value: Decimal) -> Decimal:
    """The range rule: beyond +-9e12 the run stops with `CalculationError`."""
    if abs(value) >= LIMIT:
        raise CalculationError(f"value {value} is beyond the fixed-point range of +-{LIMIT}")
    return value


def _quantize(value: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return check(value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN))


def add(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return check(a + b)


def sub(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return check(a - b)


def mul(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return _quantize(a * b)


def div(a: Decimal, b: Decimal) -> Decimal:
    """a / b rounded half-even to six digits; x / 0 = 0 by definition."""
    if b == 0:
        return Decimal(0).quantize(QUANTUM)
    with localcontext() as ctx:
        ctx.prec = 80
        return _quantize(a / b)


def round_to(a: Decimal, digits: int) -> Decimal:
    """round(x, n) of the expression language: half-even to n (0..6) decimals."""
    with localcontext() as ctx:
        ctx.prec = 80
        return check(a.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN).quantize(QUANTUM))


def from_minor(minor: int, exponent: int) -> Decimal:
    """Money in minor units as a Num in major units (range-checked)."""
    return check(Decimal(minor).scaleb(-exponent).quantize(QUANTUM))


def to_minor(value: Decimal, exponent: int) -> int:
    """A Num in major units rounded half-even to the minor unit: the payout-line rounding."""
    with localcontext() as ctx:
        ctx.prec = 80
        return int(value.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_raw(value: Decimal) -> int:
    """The integer representation (value x 10^6) the engine's columns and the result frames hold."""
    with localcontext() as ctx:
        ctx.prec = 80
        return int(value.scaleb(SCALE))


def from_raw(raw: int) -> Decimal:
    return Decimal(raw).scaleb(-SCALE).quantize(QUANTUM)


# --------------------------------------------------------------------------- vector (polars) side
# Columns hold raw Int64 values; null means "overflowed somewhere upstream" and poisons the result,
# which the engine turns into CalculationError. Every helper keeps nulls flowing.


def rhe_div(numerator: pl.Expr, denominator: int | pl.Expr) -> pl.Expr:
    """numerator / denominator (denominator > 0) rounded half-even, on Int128; mirrors
    `money.round_half_even`: floor division, then +1 when the remainder is past half, or exactly
    half with an odd quotient."""
    n = numerator.cast(WIDE)
    d = denominator if isinstance(denominator, int) else denominator.cast(WIDE)
    q = n // d
    twice = (n - q * d) * 2
    bump = (twice > d) | ((twice == d) & (q % 2 != 0))
    return q + bump.cast(WIDE)


def guard(wide: pl.Expr) -> pl.Expr:
    """Back to raw Int64, or null when the value left the range."""
    return pl.when(wide.abs() < LIMIT_RAW).then(wide).otherwise(None).cast(RAW)


def _any_null(*exprs: pl.Expr) -> pl.Expr:
    out = exprs[0].is_null()
    for e in exprs[1:]:
        out = out | e.is_null()
    return out


def p_add(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return guard(a.cast(WIDE) + b.cast(WIDE))


def p_sub(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return guard(a.cast(WIDE) - b.cast(WIDE))


def p_mul(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return guard(rhe_div(a.cast(WIDE) * b.cast(WIDE), ONE))


def p_div(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    a_w, b_w = a.cast(WIDE), b.cast(WIDE)
    sign = pl.when(b_w < 0).then(pl.lit(-1, WIDE)).otherwise(pl.lit(1, WIDE))
    quotient = guard(rhe_div(a_w * ONE * sign, b_w * sign))
    return pl.when(_any_null(a, b)).then(None).when(b_w == 0).then(pl.lit(0, RAW)).otherwise(quotient).cast(RAW)


def p_min(*args: pl.Expr) -> pl.Expr:
    out = args[0]
    for e in args[1:]:
        out = pl.when(_any_null(out, e)).then(None).when(e < out).then(e).otherwise(out)
    return out.cast(RAW)


def p_max(*args: pl.Expr) -> pl.Expr:
    out = args[0]
    for e in args[1:]:
        out = pl.when(_any_null(out, e)).then(None).when(e > out).then(e).otherwise(out)
    return out.cast(RAW)


def p_round_to(a: pl.Expr, digits: int) -> pl.Expr:
    step = 10 ** (SCALE - digits)
    return guard(rhe_div(a, step) * step)


def p_from_minor(minor: pl.Expr, exponent: int) -> pl.Expr:
    """Minor units (Int64) as raw Num, null when out of range (mirrors `from_minor`)."""
    return guard(minor.cast(WIDE) * 10 ** (SCALE - exponent))


def p_to_minor(raw: pl.Expr, exponent: int) -> pl.Expr:
    """Raw Num to minor units, half-even (mirrors `to_minor`)."""
    return rhe_div(raw, 10 ** (SCALE - exponent)).cast(pl.Int64)


def lit(value: Decimal) -> pl.Expr:
    return pl.lit(to_raw(value), RAW)
