"""The individual plan document: personal terms after overrides, the manager of the day, the content hash
and a byte-for-byte reproducible PDF."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import zlib
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.commissions.domain.org import (
    Assignment,
    Organisation,
    Participant,
    ParticipantRole,
    PositionVersion,
    Title,
)
from services.commissions.domain.periods import Period
from services.commissions.domain.plan_documents import (
    DocumentFonts,
    MissingFontError,
    PlanDocumentError,
    PlanDocumentTerms,
    VariableSource,
    canonical_json,
    content_hash,
    pdf_hash,
    plan_document_terms,
    render_pdf,
)
from services.commissions.domain.plans import PlanAssignment, PlanBook, VariableOverride, parse_plan

D = Decimal
JAN, APR, JUL = date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1)
MID_MAR = date(2026, 3, 16)

REP_PLAN: dict[str, Any] = {
    "plan_id": "REP",
    "version": 3,
    "name": "Sales representative 2026",
    "currency": "RUB",
    "variables": {"quota": "1000000", "target_incentive": "150000", "draw": "20000", "bonus": "25000"},
    "credit_rules": [{"rule_id": "ALL", "rollup_levels": 2}],
    "measurements": [
        {"measurement_id": "revenue", "kind": "SUM", "window": "QTD", "filter": {"credit_types": "DIRECT"}},
        {"measurement_id": "units", "kind": "COUNT", "filter": {"condition": {"product": ["SIM", "ROUTER"]}}},
        {"measurement_id": "attainment", "kind": "FORMULA", "formula": "revenue / quota"},
    ],
    "incentives": [
        {
            "kind": "RATE_TABLE",
            "incentive_id": "commission",
            "payout_window": "QTD",
            "base": "revenue",
            "basis": "ATTAINMENT",
            "quota": "quota",
            "method": "GRADUATED",
            "tiers": [
                {"lower": "0", "upper": "1", "rate": "0.05"},
                {"lower": "1", "upper": "1.2", "rate": "0.08"},
                {"lower": "1.2", "rate": "0.1"},
            ],
            "multipliers": [{"lower": "0", "upper": "0.5", "rate": "0.5"}, {"lower": "0.5", "rate": "1"}],
            "cap": "target_incentive * 2",
        },
        {
            "kind": "THRESHOLD_BONUS",
            "incentive_id": "quarter_bonus",
            "payout_window": "QTD",
            "condition": "attainment >= 1",
            "amount": "bonus",
        },
        {
            "kind": "PER_CREDIT",
            "incentive_id": "devices",
            "rate": "0.01",
            "rates_by": "product",
            "rate_table": {"SIM": "0.02", "ROUTER": "0.03"},
            "amount_per_unit": "50",
        },
        {"kind": "SPIFF", "incentive_id": "launch", "period": "2026-02", "condition": "units >= 10", "amount": "5000"},
        {"kind": "FORMULA", "incentive_id": "retention", "formula": "units * 10", "floor": "0", "cap": "bonus"},
    ],
    "deposits": [
        {"deposit_id": "hold", "incentive_ids": ["commission"], "hold_percent": "20", "release_after_periods": 3}
    ],
    "draw": {"amount": "draw", "recoverable": True},
}

MGR_PLAN: dict[str, Any] = {
    "plan_id": "MGR",
    "name": "Team lead",
    "variables": {"quota": "5000000"},
    "measurements": [{"measurement_id": "team", "filter": {"credit_types": "INDIRECT"}}],
    "incentives": [
        {
            "kind": "RATE_TABLE",
            "incentive_id": "override",
            "base": "team",
            "tiers": [{"lower": "0", "upper": "1000000", "rate": "0.01"}, {"lower": "1000000", "rate": "0.02"}],
        }
    ],
}

ORG = Organisation(
    titles=(Title("REP", "Менеджер по продажам"), Title("LEAD", "Руководитель группы"), Title("INTERN", "Стажёр")),
    positions=(
        PositionVersion("L1", "LEAD", None, JAN),
        PositionVersion("L2", "LEAD", None, JAN),
        # R1 reports to L1 until mid-March, then to L2 (a transfer of the whole position)
        PositionVersion("R1", "REP", "L1", JAN, MID_MAR),
        PositionVersion("R1", "REP", "L2", MID_MAR),
        PositionVersion("R2", "REP", "L1", JAN),
        PositionVersion("R3", "REP", "L1", JAN),
        PositionVersion("I1", "INTERN", "L1", JAN),
    ),
    participants=(
        Participant("ivan", "Иван Петров"),
        Participant("olga", "Ольга Смирнова"),
        Participant("anna", "Anna Berg"),
        Participant("lev", "Лев Орлов"),
        Participant("kira", "Кира Белова"),
        Participant("tim", "Тимур Агентов", ParticipantRole.AGENT),
    ),
    assignments=(
        Assignment("lev", "L1", JAN),
        Assignment("kira", "L2", JAN),
        Assignment("ivan", "R1", JAN),
        Assignment("olga", "R2", JAN),
        Assignment("anna", "R3", JAN, APR),
        Assignment("tim", "I1", JAN),
    ),
)


def book(rep: dict[str, Any] = REP_PLAN) -> PlanBook:
    return PlanBook(
        plans=(parse_plan(rep), parse_plan(MGR_PLAN)),
        assignments=(PlanAssignment("REP", JAN, title_id="REP"), PlanAssignment("MGR", JAN, title_id="LEAD")),
        overrides=(
            # every representative's quota from April; ivan's own quota for the first half-year
            VariableOverride("REP", "quota", D(1_200_000), APR, title_id="REP"),
            VariableOverride("REP", "quota", D(900_000), JAN, JUL, position_id="R1"),
            VariableOverride("REP", "target_incentive", D(180_000), APR, title_id="REP"),
        ),
    )


BOOK = book()


def terms(participant: str = "ivan", period: str = "2026-04") -> PlanDocumentTerms:
    return plan_document_terms(ORG, BOOK, participant, period)


# --------------------------------------------------------------------------- terms


def test_quota_precedence_position_beats_title_beats_plan() -> None:
    ivan = terms("ivan").position.variable("quota")
    olga = terms("olga").position.variable("quota")
    olga_jan = terms("olga", "2026-01").position.variable("quota")
    assert ivan is not None and olga is not None and olga_jan is not None
    assert (ivan.value, ivan.source, ivan.personal, ivan.plan_value) == (
        D(900_000),
        VariableSource.POSITION,
        True,
        D(1_000_000),
    )
    assert (olga.value, olga.source, olga.personal) == (D(1_200_000), VariableSource.TITLE, False)
    assert (olga_jan.value, olga_jan.source, olga_jan.personal) == (D(1_000_000), VariableSource.PLAN, False)
    # ivan's personal quota ends in July: from then the title's applies
    later = terms("ivan", "2026-07").position.variable("quota")
    assert later is not None and (later.value, later.source) == (D(1_200_000), VariableSource.TITLE)


def test_terms_describe_plan_incentives_deposits_and_draw() -> None:
    t = terms("ivan")
    p = t.position
    assert (t.participant_name, t.period, t.effective_on, t.currency) == ("Иван Петров", "2026-04", APR, "RUB")
    assert (p.position_id, p.title_id, p.title_name) == ("R1", "REP", "Менеджер по продажам")
    assert (p.plan_id, p.plan_version, p.plan_name) == ("REP", 3, "Sales representative 2026")
    assert [v.name for v in p.variables] == ["bonus", "draw", "quota", "target_incentive"]
    assert p.target_incentive == t.target_incentive == D(180_000)
    commission, bonus, devices, launch, retention = p.incentives
    assert (commission.kind, commission.base, commission.basis, commission.method) == (
        "RATE_TABLE",
        "revenue",
        "ATTAINMENT",
        "GRADUATED",
    )
    assert commission.quota is not None and commission.quota.value == D(900_000)  # the personal quota
    assert [(x.lower, x.upper, x.rate) for x in commission.tiers] == [
        (D(0), D(1), D("0.05")),
        (D(1), D("1.2"), D("0.08")),
        (D("1.2"), None, D("0.1")),
    ]
    assert [x.rate for x in commission.multipliers] == [D("0.5"), D(1)]
    assert commission.cap is not None and (commission.cap.text, commission.cap.value) == (
        "target_incentive * 2",
        D(360_000),
    )
    assert (bonus.condition, bonus.amount and bonus.amount.value) == ("attainment >= 1", D(25_000))
    assert devices.rate_table == (("ROUTER", D("0.03")), ("SIM", D("0.02")))
    assert (devices.rates_by, devices.amount_per_unit) == ("product", D(50))
    assert (launch.period, launch.condition) == ("2026-02", "units >= 10")
    assert (retention.formula, retention.floor and retention.floor.value) == ("units * 10", D(0))
    units = p.measurements[1]
    assert units.filter.condition == (("product", ("SIM", "ROUTER")),)
    assert p.deposits[0].hold_percent == D(20) and p.deposits[0].release_after_periods == 3
    assert p.draw is not None and p.draw.recoverable and p.draw.amount.value == D(20_000)


def test_a_plan_without_target_incentive_has_none() -> None:
    lead = terms("lev")
    assert lead.position.plan_id == "MGR" and lead.target_incentive is None
    assert lead.position.incentives[0].quota is None


def test_manager_is_resolved_in_the_hierarchy_of_the_periods_first_day() -> None:
    march = terms("ivan", "2026-03").position  # R1 moves under L2 on 16 March: still L1 on the 1st
    april = terms("ivan", "2026-04").position
    assert (march.manager_position_id, march.manager_participant_id, march.manager_name) == ("L1", "lev", "Лев Орлов")
    assert (april.manager_position_id, april.manager_participant_id, april.manager_name) == (
        "L2",
        "kira",
        "Кира Белова",
    )
    top = terms("lev").position
    assert (top.manager_position_id, top.manager_participant_id, top.manager_name) == (None, None, None)


def test_a_vacant_manager_position_has_no_manager_participant() -> None:
    org = replace(ORG, assignments=tuple(a for a in ORG.assignments if a.participant_id != "kira"))
    p = plan_document_terms(org, BOOK, "ivan", "2026-04").position
    assert (p.manager_position_id, p.manager_participant_id, p.manager_name) == ("L2", None, None)


def test_no_plan_no_document() -> None:
    with pytest.raises(PlanDocumentError, match="holds I1 but none has a plan") as exc:
        terms("tim")  # interns have no plan
    assert exc.value.participant_id == "tim" and exc.value.period == Period(2026, 4)
    with pytest.raises(PlanDocumentError, match="does not hold any position"):
        terms("anna", "2026-04")  # left at the end of March
    with pytest.raises(PlanDocumentError, match="unknown participant"):
        terms("nobody")
    assert terms("anna", "2026-03").position.position_id == "R3"


def test_every_plan_position_is_documented_and_one_can_be_chosen() -> None:
    org = replace(
        ORG,
        positions=(*ORG.positions, PositionVersion("R4", "REP", "L2", JAN), PositionVersion("L3", "LEAD", None, JAN)),
        assignments=(*ORG.assignments, Assignment("olga", "R4", APR), Assignment("olga", "L3", APR)),
    )
    both = plan_document_terms(org, BOOK, "olga", "2026-04")
    assert [p.position_id for p in both.positions] == ["L3", "R2", "R4"]
    assert both.target_incentive == D(360_000)  # two representative positions, the lead plan has none
    assert both.plan_versions == (("MGR", 1), ("REP", 3), ("REP", 3))
    only = plan_document_terms(org, BOOK, "olga", "2026-04", position_id="R4")
    assert [p.position_id for p in only.positions] == ["R4"] and only.target_incentive == D(180_000)
    dollars = {**MGR_PLAN, "currency": "USD"}
    mixed = replace(BOOK, plans=(BOOK.plans[0], parse_plan(dollars)))
    with pytest.raises(PlanDocumentError, match=r"different currencies \(RUB, USD\); issue one document per position"):
        plan_document_terms(org, mixed, "olga", "2026-04")
    assert plan_document_terms(org, mixed, "olga", "2026-04", position_id="L3").currency == "USD"


# --------------------------------------------------------------------------- hashes


def test_equal_terms_hash_equal_and_ignore_the_key_order_of_the_plan_json() -> None:
    shuffled = json.loads(json.dumps(REP_PLAN), object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    assert list(shuffled) == list(reversed(REP_PLAN))
    again = plan_document_terms(ORG, book(shuffled), "ivan", "2026-04")
    assert again == terms("ivan")
    assert canonical_json(again) == canonical_json(terms("ivan"))
    assert content_hash(again) == content_hash(terms("ivan"))
    # trailing zeros do not make other terms: 0.050 is 0.05
    zeros = copy.deepcopy(REP_PLAN)
    zeros["incentives"][0]["tiers"][0]["rate"] = "0.050"
    assert content_hash(plan_document_terms(ORG, book(zeros), "ivan", "2026-04")) == content_hash(terms("ivan"))


def test_canonical_json_is_sorted_with_decimals_as_strings_and_iso_dates() -> None:
    raw = canonical_json(terms("ivan"))
    doc = json.loads(raw)
    assert raw == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    t = doc["terms"]
    assert t["effective_on"] == "2026-04-01"
    assert t["target_incentive"] == "180000"
    assert t["positions"][0]["incentives"][0]["tiers"][2] == {"lower": "1.2", "upper": None, "rate": "0.1"}
    assert re.search(r"\d[eE][+-]?\d", raw.decode()) is None  # never exponent notation


def _changed(edit: Any) -> str:
    plan = copy.deepcopy(REP_PLAN)
    edit(plan)
    return content_hash(plan_document_terms(ORG, book(plan), "ivan", "2026-04"))


def test_any_change_of_rate_tier_quota_or_version_changes_the_hash() -> None:
    base = content_hash(terms("ivan"))
    hashes = {
        base,
        _changed(lambda p: p["incentives"][0]["tiers"][1].update(rate="0.09")),
        _changed(
            lambda p: (
                p["incentives"][0]["tiers"][1].update(upper="1.3") or p["incentives"][0]["tiers"][2].update(lower="1.3")
            )
        ),
        _changed(lambda p: p["incentives"][2].update(rate="0.015")),
        _changed(lambda p: p.update(version=4)),
        _changed(lambda p: p["variables"].update(bonus="26000")),
    }
    assert len(hashes) == 6
    # ivan's personal quota override
    personal = replace(
        BOOK,
        overrides=(
            *BOOK.overrides[:1],
            VariableOverride("REP", "quota", D(950_000), JAN, JUL, position_id="R1"),
            *BOOK.overrides[2:],
        ),
    )
    assert content_hash(plan_document_terms(ORG, personal, "ivan", "2026-04")) not in hashes
    # a different period or participant is a different document
    assert content_hash(terms("ivan", "2026-05")) != base
    assert content_hash(terms("olga")) != base


# --------------------------------------------------------------------------- the PDF


def render(t: PlanDocumentTerms | None = None, **kw: Any) -> bytes:
    args: dict[str, Any] = {"document_id": "PD-2026-04-ivan", "version": 1, "issued_on": date(2026, 3, 25)}
    return render_pdf(t or terms("ivan"), **(args | kw))


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes]]:
    """Object number -> (dictionary text, decoded stream) for an uncompressed or Flate-compressed PDF."""
    out: dict[int, tuple[bytes, bytes]] = {}
    for m in re.finditer(rb"(\d+) 0 obj\s*", pdf):
        start = m.end()
        end = pdf.index(b"endobj", start)
        head, stream = pdf[start:end], b""
        s = pdf.find(b"stream", start, end)
        if s != -1 and pdf[start:s].rstrip().endswith(b">>"):
            head = pdf[start:s]
            length = int(re.search(rb"/Length (\d+)", head).group(1))  # type: ignore[union-attr]
            body_start = s + len(b"stream") + (2 if pdf[s + 6 : s + 8] == b"\r\n" else 1)
            stream = pdf[body_start : body_start + length]
            if b"/FlateDecode" in head:
                stream = zlib.decompress(stream)
            end = body_start + length
        out[int(m.group(1))] = (head, stream)
    return out


def _literal_strings(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, bytes) of every PDF literal string ``(...)`` in a content stream, escapes decoded."""
    out: list[tuple[int, bytes]] = []
    i = 0
    escapes = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}
    while i < len(data):
        if data[i] != ord("("):
            i += 1
            continue
        start, depth, buf, i = i, 1, bytearray(), i + 1
        while depth:
            c = data[i]
            if c == ord("\\"):
                nxt = data[i + 1]
                if nxt in escapes:
                    buf += escapes[nxt]
                    i += 2
                elif ord("0") <= nxt <= ord("7"):
                    digits = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4]).group(0)  # type: ignore[union-attr]
                    buf.append(int(digits, 8) & 0xFF)
                    i += 1 + len(digits)
                elif nxt in b"\r\n":
                    i += 2
                else:
                    buf.append(nxt)
                    i += 2
                continue
            depth += c == ord("(")
            depth -= c == ord(")")
            if depth:
                buf.append(c)
            i += 1
        out.append((start, bytes(buf)))
    return out


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF written by fpdf2 with embedded TrueType fonts: two-byte glyph codes in Tj/TJ
    strings, mapped back to characters through each font's ToUnicode CMap (no PDF library needed)."""
    objs = _objects(pdf)
    cmaps: dict[bytes, dict[int, str]] = {}
    for head, _ in objs.values():
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", head):
            font_head = objs[int(ref)][0]
            to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", font_head)
            if to_unicode:
                cmap = objs[int(to_unicode.group(1))][1]
                cmaps[name] = {
                    int(code, 16): bytes.fromhex(uni.decode()).decode("utf-16-be")
                    for code, uni in re.findall(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]+)>", cmap)
                }
    lines: list[str] = []
    for head, stream in objs.values():
        if not stream or b"/Subtype" in head or b"BT" not in stream:
            continue
        fonts = [(m.start(), m.group(1)) for m in re.finditer(rb"/(F\d+) [\d.]+ Tf", stream)]
        for offset, raw in _literal_strings(stream):
            font = next((f for pos, f in reversed(fonts) if pos < offset), None)
            cmap = cmaps.get(font or b"", {})
            lines.append(
                "".join(cmap.get(int.from_bytes(raw[k : k + 2], "big"), "?") for k in range(0, len(raw) - 1, 2))
            )
    return "".join(lines)


def test_pdf_is_a_pdf_with_the_participant_and_the_quota() -> None:
    pdf = render()
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/CreationDate (D:20260325000000Z)" in pdf
    text = pdf_text(pdf)
    assert "Иван Петров" in text
    assert "Квота: 900 000 RUB" in text.replace("\u00a0", " ")  # the personal quota, not the plan's 1 000 000
    assert "Индивидуальный план мотивации" in text and "Трудового кодекса РФ" in text
    assert "Лев Орлов" not in text and "Кира Белова" in text  # April's manager
    assert content_hash(terms("ivan")) in text  # the accepted terms are named in the document
    english = pdf_text(render(language="en"))
    assert "Quota: 900,000 RUB" in english and "Labour Code" in english and "Иван Петров" in english


def test_pdf_is_byte_for_byte_deterministic() -> None:
    first = render()
    assert render() == first
    assert pdf_hash(first) == pdf_hash(render())
    assert pdf_hash(render(version=2)) != pdf_hash(first)
    assert pdf_hash(render(issued_on=date(2026, 3, 26))) != pdf_hash(first)
    other = replace(terms("ivan"), positions=(replace(terms("ivan").position, plan_version=4),))
    assert pdf_hash(render(other)) != pdf_hash(first)


def test_pdf_hash_is_stable_across_processes() -> None:
    script = (
        "import sys; from datetime import date;"
        "from tests.commissions.domain.test_plan_documents import render;"
        "from services.commissions.domain.plan_documents import pdf_hash;"
        "sys.stdout.write(pdf_hash(render()))"
    )
    root = Path(__file__).resolve().parents[3]
    env = {"PYTHONHASHSEED": "12345", "TZ": "Asia/Vladivostok", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert out.stdout == pdf_hash(render())


def test_cyrillic_and_contractor_wording() -> None:
    org = replace(
        ORG,
        participants=(*ORG.participants, Participant("yuri", "Юрий Ёлкин-Щукин «Ъ»", ParticipantRole.PARTNER)),
        assignments=(*ORG.assignments, Assignment("yuri", "R3", APR)),
    )
    t = plan_document_terms(org, BOOK, "yuri", "2026-04")
    text = pdf_text(render(t))
    assert "Юрий Ёлкин-Щукин «Ъ»" in text
    assert "Гражданского кодекса РФ" in text and "ст. 129, 135" not in text


def test_a_manager_document_and_every_language_render() -> None:
    for language in ("ru", "en"):
        assert render(terms("lev"), language=language).startswith(b"%PDF-")
    with pytest.raises(ValueError, match="language"):
        render(language="de")


def test_a_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingFontError, match="Unicode TrueType font"):
        render(fonts=DocumentFonts(regular=tmp_path / "nope.ttf"))
