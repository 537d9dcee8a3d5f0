"""The wording of the individual plan document, in Russian and English, as `string.Template` blocks.

The wording lives apart from the layout code (`plan_documents`) so that HR and legal can review and
change it as text. It is part of what a participant signs: a change here changes the rendered PDF and
so its hash, which is why it is versioned with the code and never loaded from a writable location.
Placeholders are filled with `Template.substitute`, so a block that names a value the renderer does not
supply fails loudly instead of printing ``$name``.
"""

from __future__ import annotations

from string import Template
from typing import Literal

Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")

_RU: dict[str, str] = {
    # --- heading and parties
    "title": "Индивидуальный план мотивации",
    "subtitle": "Плановый период: $period",
    "meta": "Документ $document_id, редакция $version, дата выдачи $issued_on",
    "participant": "Участник: $participant_name ($participant_id)",
    "position": "Должность (позиция): $title_name ($position_id)",
    "manager": "Руководитель: $manager_name (позиция $manager_position_id)",
    "manager_vacant": "Руководитель: позиция $manager_position_id (вакантна)",
    "manager_none": "Руководитель: не назначен",
    "plan": "План: «$plan_name» ($plan_id), версия $plan_version; валюта расчётов: $currency",
    # --- terms
    "intro": (
        "Настоящий документ устанавливает индивидуальные условия переменного вознаграждения участника "
        "$participant_name на плановый период $period: личные плановые показатели (квоту), ставки, "
        "шкалы и порядок выплаты. Условия действуют с $effective_on."
    ),
    "pays": (
        "План начисляет перечисленные ниже вознаграждения ежемесячно, по продажам, зачтённым на позицию "
        "участника по правилам зачёта плана. Каждая сумма округляется до копейки (минимальной единицы "
        "валюты) по правилу банковского округления."
    ),
    "tiers": (
        "Шкалы задаются диапазонами [от, до): нижняя граница входит в ступень, верхняя нет; последняя "
        "ступень не ограничена сверху. При ступенчатом методе вся база оплачивается по ставке достигнутой "
        "ступени. При прогрессивном методе каждая часть базы оплачивается по ставке своей ступени. "
        "Если шкала построена по выполнению плана, границы указаны в процентах от квоты."
    ),
    "cumulative": (
        "Вознаграждение с периодом «с начала квартала» или «с начала года» ежемесячно пересчитывается за "
        "весь период накопительно; к выплате за месяц причитается разница с уже начисленной суммой."
    ),
    "labour_code_employee": (
        "Переменное вознаграждение по настоящему плану является частью заработной платы работника "
        "(ст. 129, 135 Трудового кодекса РФ) и выплачивается в сроки выплаты заработной платы "
        "(ст. 136 ТК РФ). Удержания производятся только в случаях и пределах, установленных "
        "ст. 137 и 138 ТК РФ. Условия плана не ухудшают положение работника по сравнению с трудовым "
        "договором и локальными нормативными актами работодателя."
    ),
    "labour_code_contractor": (
        "Участник не является работником: вознаграждение выплачивается по условиям заключённого с ним "
        "договора и Гражданского кодекса РФ. Положения Трудового кодекса РФ о заработной плате к нему не "
        "применяются."
    ),
    "immutable": (
        "Принятый документ не изменяется. Любое изменение плана, личных показателей или ставок оформляется "
        "новой редакцией документа и требует нового согласования и подписи участника."
    ),
    "acceptance": (
        "Подписывая документ, участник подтверждает, что ознакомлен с условиями плана мотивации и принимает их."
    ),
    "checksum": "Контрольная сумма условий (SHA-256): $content_hash",
    # --- section headings
    "section_terms": "Общие условия",
    "section_variables": "Плановые показатели и ставки",
    "section_measurements": "Показатели расчёта",
    "section_incentives": "Вознаграждения",
    "section_deposits": "Отложенные выплаты",
    "section_draw": "Гарантированная выплата",
    "section_signature": "Согласование",
    # --- table headings
    "col_variable": "Показатель",
    "col_value": "Значение",
    "col_source": "Основание",
    "col_measurement": "Показатель",
    "col_counts": "Что учитывается",
    "col_window": "Период",
    "col_from": "От",
    "col_to": "До",
    "col_rate": "Ставка",
    "col_multiplier": "Коэффициент",
    "col_key": "Значение признака",
    "source_PLAN": "по плану",
    "source_TITLE": "по должности",
    "source_POSITION": "личный",
    "open_end": "и выше",
    # --- measurements
    "measure_SUM": "сумма зачтённых продаж ($credits)",
    "measure_COUNT": "число зачтённых единиц ($credits)",
    "measure_FORMULA": "формула: $formula",
    "credits_DIRECT": "прямой зачёт",
    "credits_INDIRECT": "зачёт от подчинённых",
    "credits_ALL": "прямой зачёт и зачёт от подчинённых",
    "only_rules": "; правила зачёта: $rules",
    "only_where": "; условие: $condition",
    "window_PERIOD": "месяц",
    "window_QTD": "с начала квартала",
    "window_YTD": "с начала года",
    # --- incentives
    "incentive_heading": "$incentive_id (код начисления $earning_code), период расчёта: $window",
    "RATE_TABLE": "Комиссия с базы «$base»; метод: $method; шкала по $basis.",
    "method_STEPPED": "ступенчатый (вся база по ставке достигнутой ступени)",
    "method_GRADUATED": "прогрессивный (каждая часть базы по ставке своей ступени)",
    "basis_ATTAINMENT": "выполнению плана",
    "basis_AMOUNT": "сумме базы",
    "quota": "Квота: $value",
    "quota_formula": "Квота: $formula",
    "multipliers": "Повышающие и понижающие коэффициенты применяются к начисленной комиссии по той же шкале.",
    "floor": "Не менее: $value",
    "cap": "Не более: $value",
    "THRESHOLD_BONUS": "Бонус $amount при выполнении условия: $condition",
    "PER_CREDIT": "Ставка $rate от каждой зачтённой суммы ($credits)$per_unit.",
    "per_unit": "; плюс $amount за единицу",
    "rates_by": "Ставки по признаку «$classifier»:",
    "SPIFF": "Разовая премия $amount в периоде $period при выполнении условия: $condition",
    "FORMULA": "Сумма по формуле: $formula",
    # --- deposits and draw
    "deposit": "$deposit_id: удерживается $percent начисленного по $incentives; выплата удержанного: $release",
    "release_after": "через $periods мес.",
    "release_condition": "при выполнении условия: $condition",
    "release_or": " или ",
    "draw_recoverable": (
        "Гарантированная выплата $amount в месяц. Доплата до гарантированной суммы является авансом и "
        "зачитывается из будущих начислений сверх гарантированной суммы в пределах, допустимых ст. 137, "
        "138 ТК РФ."
    ),
    "draw_non_recoverable": "Гарантированная выплата $amount в месяц; доплата до неё не возвращается.",
    "none": "нет",
    # --- signature and footer
    "sign_participant": "Участник: $participant_name",
    "sign_line": "Подпись: ____________________    Дата: ____________",
    "footer": "Документ $document_id, ред. $version · условия $short_hash · стр. $page из {nb}",
}

_EN: dict[str, str] = {
    "title": "Individual compensation plan",
    "subtitle": "Plan period: $period",
    "meta": "Document $document_id, version $version, issued on $issued_on",
    "participant": "Participant: $participant_name ($participant_id)",
    "position": "Position: $title_name ($position_id)",
    "manager": "Manager: $manager_name (position $manager_position_id)",
    "manager_vacant": "Manager: position $manager_position_id (vacant)",
    "manager_none": "Manager: none",
    "plan": "Plan: “$plan_name” ($plan_id), version $plan_version; currency: $currency",
    "intro": (
        "This document sets out the individual terms of the variable pay of $participant_name for the plan "
        "period $period: personal targets (quota), rates, tiers and how payments are made. The terms apply "
        "from $effective_on."
    ),
    "pays": (
        "The plan pays the incentives listed below every month, on the sales credited to the participant's "
        "position under the plan's crediting rules. Every amount is rounded to the minor currency unit, "
        "half to even."
    ),
    "tiers": (
        "Tiers are ranges [from, to): the lower bound belongs to the tier, the upper bound does not; the last "
        "tier is open-ended. With the stepped method the whole base is paid at the rate of the tier reached. "
        "With the graduated method each slice of the base is paid at the rate of its own tier. Tiers on "
        "attainment are stated as a percentage of the quota."
    ),
    "cumulative": (
        "An incentive calculated quarter to date or year to date is recalculated over the whole window every "
        "month; the amount due for the month is the difference from what has already been accrued."
    ),
    "labour_code_employee": (
        "Variable pay under this plan is part of the employee's wages (Articles 129 and 135 of the Labour "
        "Code of the Russian Federation) and is paid on the dates set for wages (Article 136). Deductions are "
        "made only in the cases and within the limits of Articles 137 and 138 of the Labour Code. The plan "
        "does not worsen the employee's terms under the employment contract and the employer's local rules."
    ),
    "labour_code_contractor": (
        "The participant is not an employee: payments follow the participant's contract and the Civil Code "
        "of the Russian Federation. The wage provisions of the Labour Code do not apply."
    ),
    "immutable": (
        "An accepted document is never changed. Any change of the plan, the personal targets or the rates is "
        "issued as a new version of this document and needs a new approval and the participant's signature."
    ),
    "acceptance": (
        "By signing, the participant confirms having read and accepted the terms of this compensation plan."
    ),
    "checksum": "Terms checksum (SHA-256): $content_hash",
    "section_terms": "General terms",
    "section_variables": "Targets and rates",
    "section_measurements": "Measurements",
    "section_incentives": "Incentives",
    "section_deposits": "Deferred payments",
    "section_draw": "Draw",
    "section_signature": "Acceptance",
    "col_variable": "Item",
    "col_value": "Value",
    "col_source": "Basis",
    "col_measurement": "Measurement",
    "col_counts": "What is counted",
    "col_window": "Window",
    "col_from": "From",
    "col_to": "To",
    "col_rate": "Rate",
    "col_multiplier": "Multiplier",
    "col_key": "Classifier value",
    "source_PLAN": "plan",
    "source_TITLE": "title",
    "source_POSITION": "personal",
    "open_end": "and above",
    "measure_SUM": "sum of credited sales ($credits)",
    "measure_COUNT": "number of credited units ($credits)",
    "measure_FORMULA": "formula: $formula",
    "credits_DIRECT": "direct credits",
    "credits_INDIRECT": "credits rolled up from the team",
    "credits_ALL": "direct and rolled-up credits",
    "only_rules": "; crediting rules: $rules",
    "only_where": "; condition: $condition",
    "window_PERIOD": "month",
    "window_QTD": "quarter to date",
    "window_YTD": "year to date",
    "incentive_heading": "$incentive_id (earning code $earning_code), calculated over: $window",
    "RATE_TABLE": "Commission on “$base”; method: $method; tiers by $basis.",
    "method_STEPPED": "stepped (the whole base at the rate of the tier reached)",
    "method_GRADUATED": "graduated (each slice of the base at its own tier's rate)",
    "basis_ATTAINMENT": "attainment",
    "basis_AMOUNT": "base amount",
    "quota": "Quota: $value",
    "quota_formula": "Quota: $formula",
    "multipliers": "Accelerators and decelerators multiply the commission by the same key.",
    "floor": "At least: $value",
    "cap": "At most: $value",
    "THRESHOLD_BONUS": "Bonus of $amount when: $condition",
    "PER_CREDIT": "$rate of every credited amount ($credits)$per_unit.",
    "per_unit": "; plus $amount per unit",
    "rates_by": "Rates by “$classifier”:",
    "SPIFF": "One-off bonus of $amount in period $period when: $condition",
    "FORMULA": "Amount by formula: $formula",
    "deposit": "$deposit_id: $percent of the earnings of $incentives is held back and paid $release",
    "release_after": "after $periods month(s)",
    "release_condition": "when: $condition",
    "release_or": " or ",
    "draw_recoverable": (
        "A guaranteed payment of $amount a month. What tops earnings up to it is an advance, recovered from "
        "later earnings above the draw within the limits of Articles 137 and 138 of the Labour Code."
    ),
    "draw_non_recoverable": "A guaranteed payment of $amount a month; the top-up is not recovered.",
    "none": "none",
    "sign_participant": "Participant: $participant_name",
    "sign_line": "Signature: ____________________    Date: ____________",
    "footer": "Document $document_id, v. $version · terms $short_hash · page $page of {nb}",
}

TEXTS: dict[Language, dict[str, Template]] = {
    "ru": {k: Template(v) for k, v in _RU.items()},
    "en": {k: Template(v) for k, v in _EN.items()},
}


def text(language: Language, key: str, **values: object) -> str:
    """One block of the document in ``language`` with its placeholders filled (all of them required)."""
    return TEXTS[language][key].substitute({k: str(v) for k, v in values.items()})
