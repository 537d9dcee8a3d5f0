"""The pure domain core of the commissions service: no gRPC, SQL or Temporal imports (house rule 3).

What lives where:

* ``money``, ``fixed_point``, ``periods``: exact amounts (minor units, half-even), the six-decimal
  ``Num`` of plan arithmetic, calendar periods and period-to-date windows.
* ``org``: titles, positions with effective-dated managers, participants and their assignments.
* ``expressions``: the formula language (tokenizer, parser, type checker, scalar and polars evaluation).
* ``plans``: the plan model, its validation (``PlanValidationError`` with field paths), plan book.
* ``transactions``: ingestion of rows with reasons for rejects, idempotency, reversals.
* ``inputs`` / ``results``: what a run reads and produces (frames with fixed schemas).
* ``engine`` (+ ``engine_context``, ``engine_credits``, ``engine_incentives``, ``engine_payments``):
  the vectorized run, full and incremental. ``reference``: the row-by-row oracle, same semantics.
* ``run_checks``, ``runs``, ``adjustments``: refusing bad runs, versions and finalization,
  prior-period adjustments and the art. 137 overpayment rule.
* ``statements``, ``dashboard``, ``payroll``: what participants, managers, finance and payroll see.
"""
