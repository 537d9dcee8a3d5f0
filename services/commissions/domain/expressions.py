"""The plan formula language: tokenized, parsed to an AST and type-checked; never `eval`.

Grammar (lowest precedence first)::

    formula    := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := additive (("<" | "<=" | ">" | ">=" | "==" | "!=") additive)?
    additive   := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | primary
    primary    := NUMBER | "true" | "false" | NAME | NAME "(" args ")" | "(" formula ")"

Functions: ``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(x)``, ``if(condition, then, else)`` and
``round(x, digits)`` (digits a literal 0..6, half-even). Names are plan variables and measurement ids.
Numbers are `fixed_point` Nums: literals have at most six decimals, ``*`` and ``/`` round half-even to
six decimals, ``x / 0`` is 0, and a value beyond +-9e12 stops the run. ``and``/``or``/``if`` evaluate
lazily, left to right; every other operator evaluates all its operands.

Hostile input is bounded: at most 2,000 characters, 256 nodes and 32 levels of nesting, so neither
parsing nor evaluation can exhaust the stack or run long. Errors carry the character position.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import polars as pl

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.errors import ExpressionError

MAX_LENGTH = 2000
MAX_NODES = 256
MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 13

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
FUNCTIONS = frozenset({"min", "max", "abs", "if", "round"})
RESERVED = KEYWORDS | FUNCTIONS

_TOKEN = re.compile(
    r"\s*(?:(?P<number>[0-9]+(?:\.[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|[-+*/<>(),]))"
)


class Type(StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Number:
    value: Decimal
    pos: int


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Arith:
    """A left-to-right chain of one precedence level: ``a + b - c`` or ``a * b / c``."""

    first: Node
    rest: tuple[tuple[str, Node], ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    pos: int


Node = Number | Bool | Name | Negate | Arith | Compare | Not | Logic | Call


# --------------------------------------------------------------------------- tokenizer and parser


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number | name | op | end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = len(text) - len(text[pos:].lstrip())
            raise ExpressionError(f"unexpected character {text[bad]!r}", bad)
        kind = m.lastgroup or "op"
        tokens.append(_Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def expect(self, text: str) -> _Token:
        if self.tok.text != text or self.tok.kind == "end":
            raise ExpressionError(f"expected {text!r}, found {self._found()}", self.tok.pos)
        return self.take()

    def _found(self) -> str:
        return "end of formula" if self.tok.kind == "end" else repr(self.tok.text)

    def node(self, n: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(f"formula has more than {MAX_NODES} operations and operands", n.pos)
        return n

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"formula is nested deeper than {MAX_DEPTH} levels", pos)

    def leave(self) -> None:
        self.depth -= 1

    def parse(self) -> Node:
        root = self.or_()
        if self.tok.kind != "end":
            raise ExpressionError(f"unexpected {self._found()}", self.tok.pos)
        return root

    def or_(self) -> Node:
        return self._logic("or", self.and_)

    def and_(self) -> Node:
        return self._logic("and", self.not_)

    def _logic(self, op: str, inner: Callable[[], Node]) -> Node:
        first = inner()
        operands = [first]
        while self.tok.kind == "name" and self.tok.text == op:
            self.take()
            operands.append(inner())
        if len(operands) == 1:
            return first
        return self.node(Logic(op, tuple(operands), first.pos))

    def not_(self) -> Node:
        if self.tok.kind == "name" and self.tok.text == "not":
            pos = self.take().pos
            self.enter(pos)
            operand = self.not_()
            self.leave()
            return self.node(Not(operand, pos))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        if self.tok.kind == "op" and self.tok.text in ("<", "<=", ">", ">=", "==", "!="):
            op = self.take()
            right = self.additive()
            if self.tok.kind == "op" and self.tok.text in ("<", "<=", ">", ">=", "==", "!="):
                raise ExpressionError("comparisons cannot be chained; use 'and'", self.tok.pos)
            return self.node(Compare(op.text, left, right, op.pos))
        return left

    def additive(self) -> Node:
        return self._chain(("+", "-"), self.term)

    def term(self) -> Node:
        return self._chain(("*", "/"), self.unary)

    def _chain(self, ops: tuple[str, ...], inner: Callable[[], Node]) -> Node:
        first = inner()
        rest: list[tuple[str, Node]] = []
        while self.tok.kind == "op" and self.tok.text in ops:
            op = self.take().text
            rest.append((op, inner()))
        if not rest:
            return first
        return self.node(Arith(first, tuple(rest), first.pos))

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in ("-", "+"):
            tok = self.take()
            self.enter(tok.pos)
            operand = self.unary()
            self.leave()
            return self.node(Negate(operand, tok.pos)) if tok.text == "-" else operand
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return self.node(Number(_literal(tok), tok.pos))
        if tok.kind == "name":
            self.take()
            if tok.text in ("true", "false"):
                return self.node(Bool(tok.text == "true", tok.pos))
            if tok.text in KEYWORDS:
                raise ExpressionError(f"unexpected keyword {tok.text!r}", tok.pos)
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(tok)
            if tok.text in FUNCTIONS:
                raise ExpressionError(f"function {tok.text!r} needs arguments in parentheses", tok.pos)
            if not NAME_PATTERN.fullmatch(tok.text):
                raise ExpressionError(f"name {tok.text[:20]!r}... is longer than 64 characters", tok.pos)
            return self.node(Name(tok.text, tok.pos))
        if tok.kind == "op" and tok.text == "(":
            self.take()
            self.enter(tok.pos)
            inner = self.or_()
            self.leave()
            self.expect(")")
            return inner
        raise ExpressionError(f"expected a number, a name or '(', found {self._found()}", tok.pos)

    def call(self, name: _Token) -> Node:
        if name.text not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name.text!r}", name.pos)
        self.expect("(")
        self.enter(name.pos)
        args: list[Node] = []
        if not (self.tok.kind == "op" and self.tok.text == ")"):
            args.append(self.or_())
            while self.tok.kind == "op" and self.tok.text == ",":
                self.take()
                args.append(self.or_())
        self.leave()
        self.expect(")")
        return self.node(Call(name.text, tuple(args), name.pos))


def _literal(tok: _Token) -> Decimal:
    whole, _, frac = tok.text.partition(".")
    if len(frac) > fp.SCALE:
        raise ExpressionError(f"number {tok.text} has more than {fp.SCALE} decimal places", tok.pos)
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS - 1 or Decimal(tok.text) >= fp.LIMIT:
        raise ExpressionError(f"number {tok.text[:20]} is beyond the range of +-{fp.LIMIT}", tok.pos)
    return fp.num(tok.text)


def parse(text: str) -> Node:
    """The AST of a formula, or `ExpressionError` naming the position of the first problem."""
    if not isinstance(text, str):
        raise ExpressionError("formula must be text", 0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"formula is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.strip():
        raise ExpressionError("formula is empty", 0)
    return _Parser(text).parse()


def names_in(node: Node) -> frozenset[str]:
    """Every variable or measurement name the formula reads."""
    out: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name):
            out.add(n.name)
        elif isinstance(n, Negate | Not):
            stack.append(n.operand)
        elif isinstance(n, Arith):
            stack.append(n.first)
            stack.extend(x for _, x in n.rest)
        elif isinstance(n, Compare):
            stack += [n.left, n.right]
        elif isinstance(n, Logic):
            stack.extend(n.operands)
        elif isinstance(n, Call):
            stack.extend(n.args)
    return frozenset(out)


# --------------------------------------------------------------------------- type checking


def check(node: Node, types: Mapping[str, Type]) -> tuple[Type | None, list[ExpressionError]]:
    """The formula's type and every naming or typing error (unknown names, wrong arity, a boolean
    where a number is needed and vice versa)."""
    errors: list[ExpressionError] = []

    def want(n: Node, expected: Type) -> None:
        got = visit(n)
        if got is not None and got is not expected:
            errors.append(ExpressionError(f"expected a {expected}, found a {got}", n.pos))

    def visit(n: Node) -> Type | None:
        if isinstance(n, Number):
            return Type.NUMBER
        if isinstance(n, Bool):
            return Type.BOOLEAN
        if isinstance(n, Name):
            if n.name not in types:
                errors.append(ExpressionError(f"unknown name {n.name!r}", n.pos))
                return None
            return types[n.name]
        if isinstance(n, Negate):
            want(n.operand, Type.NUMBER)
            return Type.NUMBER
        if isinstance(n, Arith):
            want(n.first, Type.NUMBER)
            for _, x in n.rest:
                want(x, Type.NUMBER)
            return Type.NUMBER
        if isinstance(n, Compare):
            want(n.left, Type.NUMBER)
            want(n.right, Type.NUMBER)
            return Type.BOOLEAN
        if isinstance(n, Not):
            want(n.operand, Type.BOOLEAN)
            return Type.BOOLEAN
        if isinstance(n, Logic):
            for x in n.operands:
                want(x, Type.BOOLEAN)
            return Type.BOOLEAN
        return visit_call(n)

    def visit_call(n: Call) -> Type | None:
        arity = {"abs": (1, 1), "if": (3, 3), "round": (2, 2), "min": (2, MAX_NODES), "max": (2, MAX_NODES)}
        lo, hi = arity[n.function]
        if not lo <= len(n.args) <= hi:
            need = str(lo) if lo == hi else f"at least {lo}"
            errors.append(ExpressionError(f"{n.function}() takes {need} arguments, got {len(n.args)}", n.pos))
            return Type.NUMBER if n.function != "if" else None
        if n.function == "if":
            want(n.args[0], Type.BOOLEAN)
            then, other = visit(n.args[1]), visit(n.args[2])
            if then is not None and other is not None and then is not other:
                errors.append(ExpressionError(f"if() branches differ: {then} and {other}", n.pos))
                return None
            return then or other
        if n.function == "round":
            want(n.args[0], Type.NUMBER)
            digits = n.args[1]
            if not (
                isinstance(digits, Number) and digits.value == digits.value.to_integral() and 0 <= digits.value <= 6
            ):
                errors.append(ExpressionError("round() digits must be a whole literal from 0 to 6", digits.pos))
            return Type.NUMBER
        for a in n.args:
            want(a, Type.NUMBER)
        return Type.NUMBER

    result = visit(node)
    return (result if not errors else None), errors


# --------------------------------------------------------------------------- scalar evaluation (oracle)

Value = Decimal | bool


def evaluate(node: Node, env: Mapping[str, Value]) -> Value:
    """The formula's value for one set of inputs, in `Decimal` Nums (raises `CalculationError`)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Bool):
        return node.value
    if isinstance(node, Name):
        return env[node.name]
    if isinstance(node, Negate):
        return fp.sub(Decimal(0), _number(evaluate(node.operand, env)))
    if isinstance(node, Arith):
        acc = _number(evaluate(node.first, env))
        for op, x in node.rest:
            v = _number(evaluate(x, env))
            acc = {"+": fp.add, "-": fp.sub, "*": fp.mul, "/": fp.div}[op](acc, v)
        return acc
    if isinstance(node, Compare):
        a, b = _number(evaluate(node.left, env)), _number(evaluate(node.right, env))
        return {
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
            "==": a == b,
            "!=": a != b,
        }[node.op]
    if isinstance(node, Not):
        return not evaluate(node.operand, env)
    if isinstance(node, Logic):
        for x in node.operands:
            v = evaluate(x, env)
            if node.op == "and" and not v:
                return False
            if node.op == "or" and v:
                return True
        return node.op == "and"
    fn = node.function
    if fn == "if":
        return evaluate(node.args[1] if evaluate(node.args[0], env) else node.args[2], env)
    if fn == "round":
        assert isinstance(node.args[1], Number)
        return fp.round_to(_number(evaluate(node.args[0], env)), int(node.args[1].value))
    values = [_number(evaluate(a, env)) for a in node.args]
    if fn == "abs":
        return abs(values[0])
    return min(values) if fn == "min" else max(values)


def _number(v: Value) -> Decimal:
    assert isinstance(v, Decimal), "type checking guarantees a number here"
    return v


# --------------------------------------------------------------------------- vector compilation (engine)


def to_polars(
    node: Node, resolve: Callable[[str], pl.Expr], materialize: Callable[[pl.Expr], pl.Expr] | None = None
) -> pl.Expr:
    """The formula as a polars expression over raw Int64 Num columns (booleans for conditions).

    Null means "overflowed" and propagates exactly where the scalar evaluator would have raised:
    strict operators return null if any operand is null; ``and``/``or``/``if`` only look at what the
    scalar evaluator would have evaluated.

    Each fixed-point operator reads its operands several times (rounding needs the quotient and the
    remainder), so nesting expressions would grow exponentially with the formula's depth. The engine
    passes ``materialize``, which stores a node's result as a column and returns a reference to it:
    the work is then linear in the number of nodes."""
    keep = materialize or (lambda e: e)

    def go(n: Node) -> pl.Expr:
        if isinstance(n, Number):
            return fp.lit(n.value)
        if isinstance(n, Bool):
            return pl.lit(n.value, pl.Boolean)
        if isinstance(n, Name):
            return resolve(n.name)
        return keep(composite(n))

    def composite(n: Node) -> pl.Expr:
        if isinstance(n, Negate):
            return fp.p_sub(pl.lit(0, fp.RAW), go(n.operand))
        if isinstance(n, Arith):
            acc = go(n.first)
            for i, (op, x) in enumerate(n.rest):
                step = {"+": fp.p_add, "-": fp.p_sub, "*": fp.p_mul, "/": fp.p_div}[op](acc, go(x))
                acc = step if i == len(n.rest) - 1 else keep(step)
            return acc
        if isinstance(n, Compare):
            if isinstance(n.left, Number) and not isinstance(n.right, Number):
                # "literal op column" as "column op' literal": same value, and polars 2.1 mis-sizes the
                # former when the column is a broadcast constant.
                flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}[n.op]
                return composite(Compare(flipped, n.right, n.left, n.pos))
            a, b = go(n.left), go(n.right)
            return {
                "<": a < b,
                "<=": a <= b,
                ">": a > b,
                ">=": a >= b,
                "==": a == b,
                "!=": a != b,
            }[n.op]
        if isinstance(n, Not):
            return ~go(n.operand)
        if isinstance(n, Logic):
            # Fold from the right: "a and rest" = null if a is null, False if a is false, else rest.
            out = go(n.operands[-1])
            for i, x in enumerate(reversed(n.operands[:-1])):
                a = go(x)
                short = pl.lit(n.op == "or", pl.Boolean)
                stop = a if n.op == "or" else ~a
                out = pl.when(a.is_null()).then(pl.lit(None, pl.Boolean)).when(stop).then(short).otherwise(out)
                if i < len(n.operands) - 2:
                    out = keep(out)
            return out
        assert isinstance(n, Call)
        fn = n.function
        if fn == "if":
            cond = go(n.args[0])
            then, other = go(n.args[1]), go(n.args[2])
            return pl.when(cond.is_null()).then(None).when(cond).then(then).otherwise(other)
        if fn == "round":
            assert isinstance(n.args[1], Number)
            return fp.p_round_to(go(n.args[0]), int(n.args[1].value))
        values = [go(a) for a in n.args]
        if fn == "abs":
            return values[0].abs()
        acc = values[0]
        for i, v in enumerate(values[1:], start=1):
            step = fp.p_min(acc, v) if fn == "min" else fp.p_max(acc, v)
            acc = step if i == len(values) - 1 else keep(step)
        return acc

    return go(node)


# --------------------------------------------------------------------------- the public handle


@dataclass(frozen=True)
class Formula:
    """A parsed formula with the names it reads; parse once, evaluate many times."""

    text: str
    root: Node
    names: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Formula:
        root = parse(text)
        return cls(text, root, names_in(root))

    def check(self, types: Mapping[str, Type], expected: Type) -> list[ExpressionError]:
        got, errors = check(self.root, types)
        if not errors and got is not expected:
            errors.append(ExpressionError(f"formula must give a {expected}, it gives a {got}", 0))
        return errors

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        return evaluate(self.root, env)

    def to_polars(
        self, resolve: Callable[[str], pl.Expr], materialize: Callable[[pl.Expr], pl.Expr] | None = None
    ) -> pl.Expr:
        return to_polars(self.root, resolve, materialize)
