"""The individual plan document: a participant's personal terms for a plan period, hashed and rendered.

Every participant signs, for each plan period, a document stating *their* terms: the plan of each
position they hold, the variables after title and position overrides (their personal quota), every
incentive with its tiers, the deposits and the draw. Three things are derived from the same
`PlanDocumentTerms` value, all pure:

* `canonical_json` / `content_hash`: the terms as canonical JSON (sorted keys, decimals as normalized
  strings, dates ISO) and its SHA-256. Equal terms give equal hashes whatever the key order of the plan
  JSON they came from; a changed rate, quota, tier or plan version gives a new hash, which is how the
  application tells that an accepted document is out of date and a new version must be approved.
* `render_pdf`: the PDF the participant signs, laid out by fpdf2 from the wording in
  `plan_document_template`. It is byte-for-byte deterministic (creation date fixed to the issue date,
  the /ID derived from the content, no clock or randomness), so `pdf_hash` of a re-rendered document
  equals the stored one — as long as the same fpdf2 version and the same font files are used, which is
  why the bytes are stored when a document is issued, not re-rendered to verify a signature.

The terms are read as of the period's first day, the day the document takes effect. The domain stays
free of I/O apart from reading the font files fpdf2 embeds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos

from services.commissions.domain import plan_document_template as tpl
from services.commissions.domain.errors import CalculationError, ExpressionError
from services.commissions.domain.expressions import Formula
from services.commissions.domain.org import Organisation, ParticipantRole
from services.commissions.domain.periods import Period, Window, covers
from services.commissions.domain.plans import (
    CreditFilter,
    Measurement,
    PerCreditCommission,
    Plan,
    PlanBook,
    RateTableIncentive,
    Spiff,
    ThresholdBonus,
    Tier,
    TierBasis,
)
from services.commissions.domain.reference import plan_for

SCHEMA_VERSION = 1
TARGET_INCENTIVE = "target_incentive"
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")


class PlanDocumentError(ValueError):
    """No plan document can be produced for this participant and period (unknown participant, no position
    with a plan on the period's first day, plans in different currencies): a precondition on the stored
    organisation and plans, not a malformed request."""

    def __init__(self, participant_id: str, period: Period, reason: str) -> None:
        super().__init__(f"no plan document for participant {participant_id!r} in {period}: {reason}")
        self.participant_id = participant_id
        self.period = period
        self.reason = reason


class MissingFontError(FileNotFoundError):
    """A configured font file is missing: Cyrillic needs a Unicode TrueType font, there is no fallback."""


class VariableSource(StrEnum):
    """Where a variable's effective value comes from; position beats title beats plan."""

    PLAN = "PLAN"
    TITLE = "TITLE"
    POSITION = "POSITION"


# --------------------------------------------------------------------------- the terms, as plain data


@dataclass(frozen=True, slots=True)
class VariableTerm:
    name: str
    value: Decimal
    plan_value: Decimal
    source: VariableSource

    @property
    def personal(self) -> bool:
        """Whether the value was set for this participant's position alone."""
        return self.source is VariableSource.POSITION


@dataclass(frozen=True, slots=True)
class TierTerm:
    lower: Decimal
    upper: Decimal | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class CreditFilterTerm:
    credit_types: str
    rule_ids: tuple[str, ...] | None
    condition: tuple[tuple[str, tuple[str, ...]], ...]  # classifier -> values, sorted


@dataclass(frozen=True, slots=True)
class MeasurementTerm:
    measurement_id: str
    kind: str
    window: str
    filter: CreditFilterTerm
    formula: str | None


@dataclass(frozen=True, slots=True)
class FormulaTerm:
    """A formula as its source text, with its value when it reads plan variables only (a quota)."""

    text: str
    value: Decimal | None


@dataclass(frozen=True, slots=True)
class IncentiveTerm:
    """Any incentive kind as data; the fields that do not apply to ``kind`` are None or empty."""

    incentive_id: str
    kind: str
    earning_code: str
    payout_window: str
    base: str | None = None
    basis: str | None = None
    method: str | None = None
    quota: FormulaTerm | None = None
    tiers: tuple[TierTerm, ...] = ()
    multipliers: tuple[TierTerm, ...] = ()
    floor: FormulaTerm | None = None
    cap: FormulaTerm | None = None
    condition: str | None = None
    amount: FormulaTerm | None = None
    period: str | None = None
    formula: str | None = None
    filter: CreditFilterTerm | None = None
    rate: Decimal | None = None
    rates_by: str | None = None
    rate_table: tuple[tuple[str, Decimal], ...] = ()
    amount_per_unit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DepositTerm:
    deposit_id: str
    incentive_ids: tuple[str, ...]
    hold_percent: Decimal
    release_after_periods: int | None
    release_condition: str | None


@dataclass(frozen=True, slots=True)
class DrawTerm:
    amount: FormulaTerm
    recoverable: bool


@dataclass(frozen=True, slots=True)
class PositionTerms:
    """The terms of one position the participant holds: its plan as it applies to them."""

    position_id: str
    title_id: str
    title_name: str
    manager_position_id: str | None
    manager_participant_id: str | None
    manager_name: str | None
    plan_id: str
    plan_version: int
    plan_name: str
    currency: str
    variables: tuple[VariableTerm, ...]
    measurements: tuple[MeasurementTerm, ...]
    incentives: tuple[IncentiveTerm, ...]
    deposits: tuple[DepositTerm, ...]
    draw: DrawTerm | None
    target_incentive: Decimal | None

    def variable(self, name: str) -> VariableTerm | None:
        return next((v for v in self.variables if v.name == name), None)


@dataclass(frozen=True, slots=True)
class PlanDocumentTerms:
    """Everything a participant's plan document states for one period; the input of hash and PDF.

    ``target_incentive`` is the sum over the positions whose plan has a ``target_incentive`` variable
    (None when none has): what decides whether a director must approve the document."""

    participant_id: str
    participant_name: str
    participant_role: str
    period: str
    effective_on: date
    currency: str
    positions: tuple[PositionTerms, ...]
    target_incentive: Decimal | None

    @property
    def position(self) -> PositionTerms:
        """The first (usually the only) position, by position id."""
        return self.positions[0]

    @property
    def plan_versions(self) -> tuple[tuple[str, int], ...]:
        return tuple((p.plan_id, p.plan_version) for p in self.positions)


# --------------------------------------------------------------------------- building the terms


def plan_document_terms(
    org: Organisation,
    book: PlanBook,
    participant_id: str,
    period: Period | str,
    *,
    position_id: str | None = None,
) -> PlanDocumentTerms:
    """The participant's individual terms for ``period``, read as of its first day.

    Every position the participant holds that day and that has a plan (its own plan assignment, else its
    title's) is included, in position-id order; ``position_id`` restricts the document to one of them
    (for a participant whose positions have plans in different currencies). Raises `PlanDocumentError`
    when there is nothing to document."""
    p = Period.parse(period) if isinstance(period, str) else period
    day = p.start
    people = {x.participant_id: x for x in org.participants}
    person = people.get(participant_id)
    if person is None:
        raise PlanDocumentError(participant_id, p, "unknown participant")
    held = sorted(
        {
            a.position_id
            for a in org.assignments_by_participant.get(participant_id, ())
            if covers(a.valid_from, a.valid_to, day) and (position_id is None or a.position_id == position_id)
        }
    )
    planned = [(pos, plan_id) for pos in held if (plan_id := plan_for(org, book, pos, day)) is not None]
    if not planned:
        what = f"position {position_id!r}" if position_id is not None else "any position"
        holds = f"holds {', '.join(held)} but none has a plan" if held else f"does not hold {what}"
        raise PlanDocumentError(participant_id, p, f"on {day.isoformat()} the participant {holds}")
    titles = {t.title_id: t.name for t in org.titles}
    positions: list[PositionTerms] = []
    for pos, plan_id in planned:
        plan = book.by_id.get(plan_id)
        if plan is None:
            raise PlanDocumentError(participant_id, p, f"position {pos!r} is assigned unknown plan {plan_id!r}")
        title = org.title_as_of(pos, day) or ""
        manager_pos = org.manager_as_of(pos, day)
        manager = org.holder_as_of(manager_pos, day) if manager_pos is not None else None
        manager_person = people.get(manager) if manager is not None else None
        variables = _variables(book, plan, pos, title, day)
        values = {v.name: v.value for v in variables}
        positions.append(
            PositionTerms(
                position_id=pos,
                title_id=title,
                title_name=titles.get(title, "") or title,
                manager_position_id=manager_pos,
                manager_participant_id=manager,
                manager_name=(manager_person.name or manager) if manager_person is not None else manager,
                plan_id=plan.plan_id,
                plan_version=plan.version,
                plan_name=plan.name or plan.plan_id,
                currency=plan.currency,
                variables=variables,
                measurements=tuple(_measurement(m) for m in plan.measurements),
                incentives=tuple(_incentive(i, values) for i in plan.incentives),
                deposits=tuple(
                    DepositTerm(
                        d.deposit_id, d.incentive_ids, d.hold_percent, d.release_after_periods, d.release_condition
                    )
                    for d in plan.deposits
                ),
                draw=None if plan.draw is None else DrawTerm(_formula(plan.draw.amount, values), plan.draw.recoverable),
                target_incentive=values.get(TARGET_INCENTIVE),
            )
        )
    currencies = sorted({x.currency for x in positions})
    if len(currencies) > 1:
        raise PlanDocumentError(
            participant_id,
            p,
            f"the plans of positions {', '.join(x.position_id for x in positions)} are in different currencies "
            f"({', '.join(currencies)}); issue one document per position",
        )
    targets = [x.target_incentive for x in positions if x.target_incentive is not None]
    return PlanDocumentTerms(
        participant_id=participant_id,
        participant_name=person.name or participant_id,
        participant_role=str(person.role),
        period=str(p),
        effective_on=day,
        currency=currencies[0],
        positions=tuple(positions),
        target_incentive=sum(targets, Decimal(0)) if targets else None,
    )


def _variables(book: PlanBook, plan: Plan, position_id: str, title_id: str, day: date) -> tuple[VariableTerm, ...]:
    """The plan's variables with overrides in effect on ``day`` applied: position beats title beats plan
    (the rule of `reference._Run.variables`, which the run applies)."""
    out: list[VariableTerm] = []
    for name in sorted(plan.variables):
        by_position = by_title = None
        for o in book.overrides:
            if o.plan_id != plan.plan_id or o.variable != name or not covers(o.valid_from, o.valid_to, day):
                continue
            if o.position_id == position_id:
                by_position = o.value
            elif o.title_id is not None and o.title_id == title_id:
                by_title = o.value
        default = plan.variables[name]
        if by_position is not None:
            out.append(VariableTerm(name, by_position, default, VariableSource.POSITION))
        elif by_title is not None:
            out.append(VariableTerm(name, by_title, default, VariableSource.TITLE))
        else:
            out.append(VariableTerm(name, default, default, VariableSource.PLAN))
    return tuple(out)


def _formula(text: str, variables: Mapping[str, Decimal]) -> FormulaTerm:
    """The formula's text, and its value when it reads nothing but plan variables."""
    try:
        f = Formula.parse(text)
        value = f.evaluate(variables) if f.names <= variables.keys() else None
    except (ExpressionError, CalculationError, ArithmeticError):
        value = None
    return FormulaTerm(text, value if isinstance(value, Decimal) else None)


def _optional(text: str | None, variables: Mapping[str, Decimal]) -> FormulaTerm | None:
    return None if text is None else _formula(text, variables)


def _filter(flt: CreditFilter) -> CreditFilterTerm:
    return CreditFilterTerm(
        credit_types=str(flt.credit_types),
        rule_ids=flt.rule_ids,
        condition=tuple(sorted((str(k), tuple(v)) for k, v in flt.condition.items())),
    )


def _measurement(m: Measurement) -> MeasurementTerm:
    return MeasurementTerm(m.measurement_id, str(m.kind), str(m.window), _filter(m.filter), m.formula)


def _tiers(tiers: Iterable[Tier]) -> tuple[TierTerm, ...]:
    return tuple(TierTerm(t.lower, t.upper, t.rate) for t in tiers)


def _incentive(inc: Any, variables: Mapping[str, Decimal]) -> IncentiveTerm:
    common = {
        "incentive_id": inc.incentive_id,
        "kind": inc.kind,
        "earning_code": inc.earning_code,
        "payout_window": str(inc.payout_window),
    }
    if isinstance(inc, RateTableIncentive):
        return IncentiveTerm(
            **common,
            base=inc.base,
            basis=str(inc.basis),
            method=str(inc.method),
            quota=_optional(inc.quota, variables),
            tiers=_tiers(inc.tiers),
            multipliers=_tiers(inc.multipliers),
            floor=_optional(inc.floor, variables),
            cap=_optional(inc.cap, variables),
        )
    if isinstance(inc, ThresholdBonus):
        return IncentiveTerm(**common, condition=inc.condition, amount=_formula(inc.amount, variables))
    if isinstance(inc, Spiff):
        return IncentiveTerm(
            **common, condition=inc.condition, amount=_formula(inc.amount, variables), period=inc.period
        )
    if isinstance(inc, PerCreditCommission):
        return IncentiveTerm(
            **common,
            filter=_filter(inc.filter),
            rate=inc.rate,
            rates_by=None if inc.rates_by is None else str(inc.rates_by),
            rate_table=tuple(sorted(inc.rate_table.items())),
            amount_per_unit=inc.amount_per_unit,
        )
    return IncentiveTerm(
        **common,
        formula=inc.formula,
        floor=_optional(inc.floor, variables),
        cap=_optional(inc.cap, variables),
    )


# --------------------------------------------------------------------------- canonical JSON and hashes


def _decimal_text(value: Decimal) -> str:
    """A decimal by value: ``1.50`` and ``1.5`` are the same text, and never in exponent notation."""
    return "0" if value == 0 else format(value.normalize(), "f")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"cannot put {type(value).__name__} into a plan document")


def canonical_json(terms: PlanDocumentTerms) -> bytes:
    """The terms as canonical JSON bytes: sorted keys, no whitespace, UTF-8, decimals as strings."""
    doc = {"schema": SCHEMA_VERSION, "terms": _plain(terms)}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def content_hash(terms: PlanDocumentTerms) -> str:
    """SHA-256 (hex) of `canonical_json`: what identifies the terms a participant accepted."""
    return hashlib.sha256(canonical_json(terms)).hexdigest()


def pdf_hash(pdf: bytes) -> str:
    """SHA-256 (hex) of a rendered document's bytes: what identifies the file that was signed."""
    return hashlib.sha256(pdf).hexdigest()


# --------------------------------------------------------------------------- the PDF


@dataclass(frozen=True, slots=True)
class DocumentFonts:
    """The TrueType fonts embedded in the document; they must cover Cyrillic. Debian and Ubuntu ship
    DejaVu in ``fonts-dejavu-core``. The files are part of the output: another font version gives
    other bytes (and another PDF hash)."""

    regular: Path = DEJAVU_DIR / "DejaVuSans.ttf"
    bold: Path = DEJAVU_DIR / "DejaVuSans-Bold.ttf"

    def check(self) -> None:
        for path in (self.regular, self.bold):
            if not Path(path).is_file():
                raise MissingFontError(
                    f"plan documents need a Unicode TrueType font (Cyrillic): {path} not found; install "
                    "fonts-dejavu-core or pass DocumentFonts(regular=..., bold=...)"
                )


FONT = "DocSans"
_LITERAL = re.compile(r"\s*[+-]?[0-9]+(?:\.[0-9]*)?\s*")
_MARGIN = 18.0
_BODY = 9.5


class _DocumentPdf(FPDF):
    """fpdf2 with the document's footer on every page."""

    def __init__(self, footer_text: dict[str, object], language: tpl.Language) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer = footer_text
        self._language = language

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(90)
        self.cell(0, 5, tpl.text(self._language, "footer", page=self.page_no(), **self._footer), align="C")
        self.set_text_color(0)


def render_pdf(
    terms: PlanDocumentTerms,
    *,
    document_id: str,
    version: int,
    issued_on: date,
    language: tpl.Language = "ru",
    fonts: DocumentFonts | None = None,
) -> bytes:
    """The document as PDF bytes: the same arguments (and fonts, and fpdf2 version) give the same bytes.

    Determinism: the creation date is ``issued_on`` at midnight UTC, fpdf2 derives the /ID from the
    content and that date, the producer string is fixed by the library version, the font subset tag is
    constant, and no XMP metadata (which would carry the current time) is written."""
    if language not in tpl.LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(tpl.LANGUAGES)}, not {language!r}")
    fonts = fonts or DocumentFonts()
    fonts.check()
    digest = content_hash(terms)
    pdf = _DocumentPdf({"document_id": document_id, "version": version, "short_hash": digest[:16]}, language)
    pdf.set_creation_date(datetime.combine(issued_on, time(0, 0), tzinfo=UTC))
    pdf.add_font(FONT, "", str(fonts.regular))
    pdf.add_font(FONT, "B", str(fonts.bold))
    title = tpl.text(language, "title")
    pdf.set_title(f"{title}: {terms.participant_name}, {terms.period}")
    pdf.set_subject(f"{document_id} v{version}")
    pdf.set_author("crm-platform commissions")
    pdf.set_creator("crm-platform commissions")
    pdf.set_lang(language)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    _Writer(pdf, terms, language, document_id, version, issued_on, digest).write()
    return bytes(pdf.output())


class _Writer:
    """Lays out one document; the wording comes from `plan_document_template`."""

    def __init__(
        self,
        pdf: FPDF,
        terms: PlanDocumentTerms,
        language: tpl.Language,
        document_id: str,
        version: int,
        issued_on: date,
        digest: str,
    ) -> None:
        self.pdf = pdf
        self.terms = terms
        self.lang = language
        self.document_id = document_id
        self.version = version
        self.issued_on = issued_on
        self.digest = digest

    # ---- primitives

    def t(self, key: str, **values: object) -> str:
        return tpl.text(self.lang, key, **values)

    def para(self, body: str, *, bold: bool = False, size: float = _BODY, gap: float = 1.5, align: str = "J") -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)
        self.pdf.multi_cell(0, size * 0.5, body, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(gap)

    def heading(self, body: str) -> None:
        if self.pdf.will_page_break(20):
            self.pdf.add_page()
        self.pdf.ln(2)
        self.para(body, bold=True, size=11.5, gap=1)

    def table(self, head: tuple[str, ...], rows: Iterable[tuple[str, ...]], widths: tuple[int, ...]) -> None:
        self.pdf.set_font(FONT, "", _BODY - 0.5)
        with self.pdf.table(
            col_widths=widths,
            width=self.pdf.epw,
            line_height=(_BODY - 0.5) * 0.55,
            cell_fill_color=235,
            cell_fill_mode=TableCellFillMode.ROWS,
            first_row_as_headings=True,
            text_align="LEFT",
        ) as table:
            for row in (head, *rows):
                line = table.row()
                for value in row:
                    line.cell(value)
        self.pdf.ln(2)

    # ---- numbers

    def number(self, value: Decimal) -> str:
        text = format(Decimal(_decimal_text(value)), ",f")
        if self.lang == "ru":
            return text.replace(",", "\u00a0").replace(".", ",")
        return text

    def money(self, value: Decimal) -> str:
        return f"{self.number(value)} {self.terms.currency}"

    def percent(self, fraction: Decimal) -> str:
        return f"{self.number(fraction * 100)} %" if self.lang == "ru" else f"{self.number(fraction * 100)}%"

    def day(self, d: date) -> str:
        return d.strftime("%d.%m.%Y") if self.lang == "ru" else d.isoformat()

    def formula_value(self, f: FormulaTerm, *, money: bool = True) -> str:
        if f.value is None:
            return f.text
        shown = self.money(f.value) if money else self.number(f.value)
        names = {v.name for p in self.terms.positions for v in p.variables}
        plain = f.text.strip() in names or _LITERAL.fullmatch(f.text) is not None
        return shown if plain else f"{shown} ({f.text})"

    # ---- the document

    def write(self) -> None:
        terms = self.terms
        self.para(self.t("title"), bold=True, size=16, gap=1)
        self.para(self.t("subtitle", period=terms.period), size=11, gap=0.5)
        meta = self.t("meta", document_id=self.document_id, version=self.version, issued_on=self.day(self.issued_on))
        self.para(meta, size=8.5, gap=3)
        self.para(self.t("participant", participant_name=terms.participant_name, participant_id=terms.participant_id))
        self.heading(self.t("section_terms"))
        self.para(
            self.t(
                "intro",
                participant_name=terms.participant_name,
                period=terms.period,
                effective_on=self.day(terms.effective_on),
            )
        )
        self.para(self.t("pays"))
        if any(i.tiers for p in terms.positions for i in p.incentives):
            self.para(self.t("tiers"))
        if any(i.payout_window != Window.PERIOD for p in terms.positions for i in p.incentives):
            self.para(self.t("cumulative"))
        employee = terms.participant_role == ParticipantRole.EMPLOYEE
        self.para(self.t("labour_code_employee" if employee else "labour_code_contractor"))
        self.para(self.t("immutable"))
        for position in terms.positions:
            self.position(position)
        self.signature()

    def position(self, p: PositionTerms) -> None:
        self.heading(self.t("position", title_name=p.title_name, position_id=p.position_id))
        if p.manager_position_id is None:
            manager = self.t("manager_none")
        elif p.manager_participant_id is None:
            manager = self.t("manager_vacant", manager_position_id=p.manager_position_id)
        else:
            manager = self.t("manager", manager_name=p.manager_name, manager_position_id=p.manager_position_id)
        self.para(manager, gap=0.5)
        plan = self.t(
            "plan", plan_name=p.plan_name, plan_id=p.plan_id, plan_version=p.plan_version, currency=p.currency
        )
        self.para(plan)
        if p.variables:
            self.heading(self.t("section_variables"))
            self.table(
                (self.t("col_variable"), self.t("col_value"), self.t("col_source")),
                ((v.name, self.number(v.value), self.t(f"source_{v.source}")) for v in p.variables),
                (3, 2, 2),
            )
        if p.measurements:
            self.heading(self.t("section_measurements"))
            self.table(
                (self.t("col_measurement"), self.t("col_counts"), self.t("col_window")),
                ((m.measurement_id, self.measured(m), self.t(f"window_{m.window}")) for m in p.measurements),
                (2, 5, 2),
            )
        if p.incentives:
            self.heading(self.t("section_incentives"))
            for inc in p.incentives:
                self.incentive(inc)
        if p.deposits:
            self.heading(self.t("section_deposits"))
            for d in p.deposits:
                self.deposit(d)
        if p.draw is not None:
            self.heading(self.t("section_draw"))
            key = "draw_recoverable" if p.draw.recoverable else "draw_non_recoverable"
            self.para(self.t(key, amount=self.formula_value(p.draw.amount)))

    def credits(self, f: CreditFilterTerm) -> str:
        out = self.t(f"credits_{f.credit_types}")
        if f.rule_ids:
            out += self.t("only_rules", rules=", ".join(f.rule_ids))
        if f.condition:
            out += self.t("only_where", condition=self.condition(f.condition))
        return out

    @staticmethod
    def condition(condition: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
        return "; ".join(f"{k} ∈ {{{', '.join(v)}}}" for k, v in condition)

    def measured(self, m: MeasurementTerm) -> str:
        if m.kind == "FORMULA":
            return self.t("measure_FORMULA", formula=m.formula or "")
        return self.t(f"measure_{m.kind}", credits=self.credits(m.filter))

    def incentive(self, inc: IncentiveTerm) -> None:
        heading = self.t(
            "incentive_heading",
            incentive_id=inc.incentive_id,
            earning_code=inc.earning_code,
            window=self.t(f"window_{inc.payout_window}"),
        )
        self.para(heading, bold=True, gap=0.5)
        if inc.kind == "RATE_TABLE":
            self.rate_table(inc)
        elif inc.kind in ("THRESHOLD_BONUS", "SPIFF"):
            assert inc.amount is not None
            self.para(
                self.t(
                    inc.kind, amount=self.formula_value(inc.amount), condition=inc.condition, period=inc.period or ""
                )
            )
        elif inc.kind == "PER_CREDIT":
            self.per_credit(inc)
        else:
            self.para(self.t("FORMULA", formula=inc.formula or ""), gap=0.5)
            self.limits(inc)
            self.pdf.ln(1)

    def limits(self, inc: IncentiveTerm) -> None:
        if inc.floor is not None:
            self.para(self.t("floor", value=self.formula_value(inc.floor)), gap=0.5)
        if inc.cap is not None:
            self.para(self.t("cap", value=self.formula_value(inc.cap)), gap=0.5)

    def rate_table(self, inc: IncentiveTerm) -> None:
        self.para(
            self.t(
                "RATE_TABLE",
                base=inc.base,
                method=self.t(f"method_{inc.method}"),
                basis=self.t(f"basis_{inc.basis}"),
            ),
            gap=0.5,
        )
        if inc.quota is not None:
            if inc.quota.value is not None:
                self.para(self.t("quota", value=self.formula_value(inc.quota)), bold=True, gap=0.5)
            else:
                self.para(self.t("quota_formula", formula=inc.quota.text), bold=True, gap=0.5)
        self.limits(inc)
        attainment = inc.basis == TierBasis.ATTAINMENT
        self.tier_table(inc.tiers, attainment, self.t("col_rate"), self.percent)
        if inc.multipliers:
            self.para(self.t("multipliers"), gap=0.5)
            self.tier_table(inc.multipliers, attainment, self.t("col_multiplier"), lambda r: f"× {self.number(r)}")

    def tier_table(self, tiers: tuple[TierTerm, ...], attainment: bool, what: str, rate: Any) -> None:
        bound = self.percent if attainment else self.money
        self.table(
            (self.t("col_from"), self.t("col_to"), what),
            ((bound(x.lower), self.t("open_end") if x.upper is None else bound(x.upper), rate(x.rate)) for x in tiers),
            (1, 1, 1),
        )

    def per_credit(self, inc: IncentiveTerm) -> None:
        assert inc.filter is not None and inc.rate is not None and inc.amount_per_unit is not None
        per_unit = self.t("per_unit", amount=self.money(inc.amount_per_unit)) if inc.amount_per_unit else ""
        self.para(
            self.t(
                "PER_CREDIT",
                rate=self.percent(inc.rate),
                credits=self.credits(inc.filter),
                per_unit=per_unit,
            ),
            gap=0.5,
        )
        if inc.rate_table:
            self.para(self.t("rates_by", classifier=inc.rates_by or ""), gap=0.5)
            self.table(
                (self.t("col_key"), self.t("col_rate")), ((k, self.percent(v)) for k, v in inc.rate_table), (2, 1)
            )

    def deposit(self, d: DepositTerm) -> None:
        release: list[str] = []
        if d.release_after_periods is not None:
            release.append(self.t("release_after", periods=d.release_after_periods))
        if d.release_condition is not None:
            release.append(self.t("release_condition", condition=d.release_condition))
        self.para(
            self.t(
                "deposit",
                deposit_id=d.deposit_id,
                percent=self.percent(d.hold_percent / 100),
                incentives=", ".join(d.incentive_ids),
                release=self.t("release_or").join(release) or self.t("none"),
            )
        )

    def signature(self) -> None:
        if self.pdf.will_page_break(45):
            self.pdf.add_page()
        self.heading(self.t("section_signature"))
        self.para(self.t("acceptance"), gap=0.5)
        self.para(self.t("checksum", content_hash=self.digest), size=8.5, align="L")
        self.pdf.ln(4)
        self.para(self.t("sign_participant", participant_name=self.terms.participant_name), gap=4)
        self.para(self.t("sign_line"))
