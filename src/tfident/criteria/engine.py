"""Apply a rule pack to a batch: evidence rows and one row of criteria per household.

Everything is vectorised polars (joins, filters, window functions and group-bys); there
is no per-row Python, so 50,000 households and half a million records take seconds.

How the rules are read (``docs/domain.md`` is normative; the choices it leaves open are
fixed here):

* A record counts for the household of its person, as ``record_index`` places it. A
  record without a ``household_id`` (its person was not placed) or without a
  ``person_id`` cannot make a household meet anything.
* **Age** is in completed years, from the person's resolved date of birth
  (``people.date_of_birth``). A person without one is neither adult nor child, so
  ``member: adult`` / ``member: child`` rules skip them (``member: any`` does not), unless the
  rule says ``unknown_age: true`` (the out-of-work benefit rules: DWP pays those benefits to
  adults), when they count and the evidence's detail says their age is unknown.
  Someone born on 29 February turns a year older on 1 March in a common year.
* ``under_18_at`` (youth offending: under 18 on the ``offence_date``) uses the resolved
  date of birth and, when the person has none, the record's own ``date_of_birth``; with
  neither the record does not count (under 18 cannot be shown).
* **12-month window**: ``D - 1 year < d <= D``, with ``D - 1 year`` computed by polars'
  ``dt.offset_by("-1y")``: the same day a year earlier, and 29 February becomes
  28 February (so for D = 2028-02-29 the window starts after 2027-02-28).
* **Last complete terms**: a term is a ``term`` label of the attendance extract (the
  whole extract); its first day is the earliest ``term_start`` and its last day the
  latest ``term_end`` under that label, so one school reporting different dates does
  not split a term in two. The ``count`` (3) most recent terms with last day ``<= D``
  are taken (latest last day first, then latest first day, then label); a term still in
  progress at D is ignored. The **education window** runs from the first day of the
  earliest of them to D inclusive; with no complete term there is no education window
  and the rules that need one do not fire.
* ``rate_at_least``: per person, the sums over their rows of those terms; no judgement
  when the denominator sums to 0; the comparison is exact in integers
  (``num * q >= p * den`` for threshold ``p/q``, so 15% means ``num * 20 >= 3 * den``).
* ``count_at_least``: records (events) of one person, not their size (sessions).
* ``value_in``: the person's most recent row dated on or before D (rows dated after D,
  or undated, are ignored); when several rows share that date, any matching one fires.
* Code filters: ``where`` needs the column's value in the list (a blank never matches);
  ``where_not`` excludes the listed codes (a blank is not excluded); ``where_any`` needs
  one of its alternatives to match in full.
* An optional source that is absent from ``extracts`` makes its rules fire for nobody;
  a canonical column missing from a frame is read as blank.

* **Gate** (Supporting Families): its rules give evidence rows under the criterion
  ``gate``; a household meets the gate when any fires. ``member_present`` fires for
  each member of the age asked (age at D from the resolved date of birth: a person
  without one is neither adult nor child) with one evidence row naming the first of
  their records (by source, record id), the date of birth as its date.
* ``needs_at_least``: ``count: needs`` counts the distinct rule ids (need descriptors)
  met in the household, however many members or records show each; ``count:
  headlines`` counts the criteria met. Eligible (``must_include``) when the gate is met
  and the count is at least ``n``.

``household_criteria`` has one row per household in ``people`` or ``record_index``
(non-null ``household_id``), sorted by ``household_id``, whether or not it met anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from tfident.criteria.pack import (
    GATE_ID,
    AtLeast,
    CountAtLeast,
    Criterion,
    EventInWindow,
    MemberPresent,
    NeedsAtLeast,
    OpenAtBatchDate,
    RateAtLeast,
    RulePack,
    ValueIn,
    Window,
)
from tfident.households.roles import age_expr, is_adult, is_child
from tfident.ingest.sources import SOURCES

EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "household_id": pl.String(),
    "criterion": pl.String(),
    "rule_id": pl.String(),
    "person_id": pl.String(),
    "source": pl.String(),
    "record_id": pl.String(),
    "event_date": pl.Date(),
    "value": pl.String(),
    "detail": pl.String(),
}
"""The columns of the ``evidence`` frame, in order."""

NON_CRITERION_COLUMNS = ("household_id", "n_national", "eligible", "eligibility")
"""The columns of ``household_criteria`` that are not criterion flags."""


def household_criteria_schema(pack: RulePack) -> dict[str, pl.DataType]:
    """The columns of ``household_criteria`` for ``pack``, in order: one Boolean per criterion, in pack order."""
    return {
        "household_id": pl.String(),
        **{criterion: pl.Boolean() for criterion in pack.criterion_ids},
        "n_national": pl.Int64(),
        "eligible": pl.Boolean(),
        "eligibility": pl.String(),
    }


def one_year_before(as_of: dt.date) -> dt.date:
    """``D - 1 year`` as polars' ``offset_by("-1y")`` gives it (29 February -> 28 February)."""
    value = pl.select(pl.lit(as_of, dtype=pl.Date).dt.offset_by("-1y")).item()
    assert isinstance(value, dt.date)
    return value


def last_complete_terms(
    attendance: pl.DataFrame | None,
    as_of: dt.date,
    count: int = 3,
    *,
    term: str = "term",
    start: str = "term_start",
    end: str = "term_end",
) -> pl.DataFrame:
    """The ``count`` most recent terms of the extract ended on or before ``as_of``.

    Columns ``term, term_start, term_end``, most recent first (see the module notes).
    """
    schema = {"term": pl.String(), "term_start": pl.Date(), "term_end": pl.Date()}
    if attendance is None or attendance.height == 0 or term not in attendance.columns:
        return pl.DataFrame(schema=schema)
    return (
        attendance.select(pl.col(term).alias("term"), pl.col(start).alias("term_start"), pl.col(end).alias("term_end"))
        .drop_nulls()
        .group_by("term")
        .agg(pl.col("term_start").min(), pl.col("term_end").max())
        .filter(pl.col("term_end") <= as_of)
        .sort(["term_end", "term_start", "term"], descending=True)
        .head(count)
    )


@dataclass(frozen=True)
class _Context:
    """What every rule needs: the batch date, windows, terms and the placed records."""

    as_of: dt.date
    year_ago: dt.date
    terms: pl.DataFrame
    education_start: dt.date | None
    index: pl.DataFrame  # source, record_id, person_id, household_id (all non-null)
    persons: pl.DataFrame  # person_id, resolved_dob, age_at_d
    term_column: str
    term_end_column: str

    def window(self, window: Window, column: str) -> tuple[pl.Expr, str] | None:
        """The condition ``column`` is in ``window`` and its wording; None if no such window."""
        d = pl.lit(self.as_of, dtype=pl.Date)
        if window == "12_months":
            return (
                (pl.col(column) > pl.lit(self.year_ago, dtype=pl.Date)) & (pl.col(column) <= d),
                f"12-month window {self.year_ago} < d <= {self.as_of}",
            )
        if self.education_start is None:
            return None
        return (
            (pl.col(column) >= pl.lit(self.education_start, dtype=pl.Date)) & (pl.col(column) <= d),
            f"education window {self.education_start} <= d <= {self.as_of} ({self.terms_text})",
        )

    def window_first_day(self, window: Window) -> dt.date | None:
        """The first day inside ``window`` (None when there is no education window)."""
        if window == "12_months":
            return self.year_ago + dt.timedelta(days=1)
        return self.education_start

    @property
    def terms_text(self) -> str:
        return "terms " + ", ".join(self.terms.sort("term_start", "term")["term"].to_list())


def evaluate_criteria(
    extracts: Mapping[str, pl.DataFrame],
    record_index: pl.DataFrame,
    people: pl.DataFrame,
    pack: RulePack,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply ``pack`` as of ``as_of``; return ``(evidence, household_criteria)``.

    ``evidence``: one row per record that contributed to a criterion a household met
    (columns :data:`EVIDENCE_SCHEMA`). ``household_criteria``: ``household_id``, one
    Boolean per criterion in pack order, ``n_national`` (Int64), ``eligible`` and
    ``eligibility`` (``must_include``, ``may_include`` or null).
    """
    context = _build_context(extracts, record_index, people, pack, as_of)
    parts = []
    if pack.gate is not None:
        gate = Criterion.model_construct(id=GATE_ID, description=pack.gate.description, national=False, rules=[])
        for gate_rule in pack.gate.rules:
            part = (
                _member_present(gate_rule, gate, context)
                if isinstance(gate_rule, MemberPresent)
                else _evaluate_rule(gate_rule, gate, extracts, context)
            )
            if part is not None and part.height:
                parts.append(part)
    for criterion in pack.criteria:
        for rule in criterion.rules:
            part = _evaluate_rule(rule, criterion, extracts, context)
            if part is not None and part.height:
                parts.append(part)
    order = {GATE_ID: -1, **{c: i for i, c in enumerate(pack.criterion_ids)}}
    if parts:
        evidence = (
            pl.concat(parts, how="vertical")
            .with_columns(pl.col("criterion").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
            .sort(
                ["household_id", "_order", "rule_id", "person_id", "event_date", "source", "record_id"], nulls_last=True
            )
            .drop("_order")
        )
    else:
        evidence = pl.DataFrame(schema=EVIDENCE_SCHEMA)
    households = _households(record_index, people)
    return evidence, combine_criteria(households, evidence, pack)


def combine_criteria(households: pl.DataFrame, evidence: pl.DataFrame, pack: RulePack) -> pl.DataFrame:
    """One row per household of ``households``: the criteria met, ``n_national`` and eligibility."""
    met = evidence.select("household_id", "criterion").unique()
    flags = []
    for cid in pack.criterion_ids:
        ids = met.filter(pl.col("criterion") == cid)["household_id"]
        flags.append(pl.col("household_id").is_in(ids.implode()).fill_null(False).alias(cid))
    frame = households.select("household_id").with_columns(flags)
    national = [c.id for c in pack.criteria if c.national]
    local = [c.id for c in pack.criteria if not c.national]
    n_national = (
        pl.sum_horizontal([pl.col(c).cast(pl.Int64) for c in national]) if national else pl.lit(0, dtype=pl.Int64)
    )
    frame = frame.with_columns(n_national.cast(pl.Int64).alias("n_national"))
    if isinstance(pack.eligibility, NeedsAtLeast):
        gate_ids = met.filter(pl.col("criterion") == GATE_ID)["household_id"]
        if pack.eligibility.count == "needs":
            needs = (
                evidence.filter(pl.col("rule_id").is_in(pack.rule_ids))
                .select("household_id", "rule_id")
                .unique()
                .group_by("household_id")
                .len("_n")
            )
            frame = frame.join(needs, on="household_id", how="left")
            n_met = pl.col("_n").fill_null(0)
        else:
            n_met = pl.sum_horizontal([pl.col(c).cast(pl.Int64) for c in pack.criterion_ids])
        gate_met = pl.col("household_id").is_in(gate_ids.implode()).fill_null(False)
        eligibility = (
            pl.when(gate_met & (n_met >= pack.eligibility.n))
            .then(pl.lit("must_include"))
            .otherwise(pl.lit(None, dtype=pl.String))
        )
    elif isinstance(pack.eligibility, AtLeast):
        n_met = pl.sum_horizontal([pl.col(c).cast(pl.Int64) for c in pack.criterion_ids])
        eligibility = (
            pl.when(n_met >= pack.eligibility.n).then(pl.lit("must_include")).otherwise(pl.lit(None, dtype=pl.String))
        )
    else:
        any_local = pl.any_horizontal([pl.col(c) for c in local]) if local else pl.lit(False)
        eligibility = (
            pl.when(pl.col("n_national") == len(national))
            .then(pl.lit("must_include"))
            .when((pl.col("n_national") == len(national) - 1) & any_local)
            .then(pl.lit("may_include"))
            .otherwise(pl.lit(None, dtype=pl.String))
        )
    return (
        frame.with_columns(eligibility.alias("eligibility"))
        .with_columns(pl.col("eligibility").is_not_null().alias("eligible"))
        .select("household_id", *pack.criterion_ids, "n_national", "eligible", "eligibility")
    )


# --------------------------------------------------------------------------- context


def _households(record_index: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    ids = pl.concat(
        [
            people.select(pl.col("household_id").cast(pl.String)),
            record_index.select(pl.col("household_id").cast(pl.String)),
        ]
    )
    return ids.drop_nulls().unique().sort("household_id")


def _build_context(
    extracts: Mapping[str, pl.DataFrame],
    record_index: pl.DataFrame,
    people: pl.DataFrame,
    pack: RulePack,
    as_of: dt.date,
) -> _Context:
    d = pl.lit(as_of, dtype=pl.Date)
    tc = pack.terms
    terms = last_complete_terms(extracts.get(tc.source), as_of, tc.count, term=tc.term, start=tc.start, end=tc.end)
    education_start = terms["term_start"].min() if terms.height else None
    assert education_start is None or isinstance(education_start, dt.date)
    index = (
        record_index.select(
            pl.col("source").cast(pl.String),
            pl.col("record_id").cast(pl.String),
            pl.col("person_id").cast(pl.String),
            pl.col("household_id").cast(pl.String),
        )
        .drop_nulls()
        .unique(subset=["source", "record_id"], keep="first", maintain_order=True)
    )
    persons = (
        people.select(pl.col("person_id").cast(pl.String), pl.col("date_of_birth").cast(pl.Date).alias("resolved_dob"))
        .drop_nulls("person_id")
        .sort(["person_id", "resolved_dob"], nulls_last=True)
        .unique(subset="person_id", keep="first", maintain_order=True)
        .with_columns(age_expr(pl.col("resolved_dob"), d).alias("age_at_d"))
    )
    return _Context(as_of, one_year_before(as_of), terms, education_start, index, persons, tc.term, tc.end)


def _source_rows(
    source: str, extracts: Mapping[str, pl.DataFrame], columns: list[str], ctx: _Context
) -> pl.DataFrame | None:
    """The rows of ``source`` placed in a household, with the columns asked for and the person's age."""
    frame = extracts.get(source)
    if frame is None:
        return None
    wanted = list(dict.fromkeys(["record_id", *columns]))
    schema = SOURCES[source]
    missing = [pl.lit(None, dtype=schema.column(c).polars_type).alias(c) for c in wanted if c not in frame.columns]
    rows = frame.with_columns(missing).select(wanted).with_columns(pl.col("record_id").cast(pl.String))
    placed = ctx.index.filter(pl.col("source") == source).select("record_id", "person_id", "household_id")
    return rows.join(placed, on="record_id", how="inner").join(ctx.persons, on="person_id", how="left")


# --------------------------------------------------------------------------- rules


def _member_filter(member: str, unknown_age: bool = False) -> pl.Expr:
    unknown = pl.col("age_at_d").is_null() if unknown_age else pl.lit(False)
    if member == "adult":
        return is_adult(pl.col("age_at_d")) | unknown
    if member == "child":
        return is_child(pl.col("age_at_d")) | unknown
    return pl.lit(True)


def _code_filter(rule: EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate) -> pl.Expr:
    condition = pl.lit(True)
    for column, codes in rule.where.items():
        condition = condition & pl.col(column).is_in(codes).fill_null(False)
    for column, codes in rule.where_not.items():
        condition = condition & ~pl.col(column).is_in(codes).fill_null(False)
    if rule.where_any:
        alternatives = [
            pl.all_horizontal([pl.col(column).is_in(codes).fill_null(False) for column, codes in alt.items()])
            for alt in rule.where_any
        ]
        condition = condition & pl.any_horizontal(alternatives)
    return condition


def _text(expr: pl.Expr) -> pl.Expr:
    """A column as text for the detail line (blank -> ``blank``)."""
    return expr.cast(pl.String).fill_null("blank")


def _value_expr(rule: EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate) -> pl.Expr:
    if not rule.value:
        return pl.lit(rule.id)
    return pl.concat_str([pl.col(c).cast(pl.String) for c in rule.value], separator=" ", ignore_nulls=True)


def _codes_text(rule: EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate) -> list[pl.Expr]:
    parts: list[pl.Expr] = []
    for column in rule.code_columns():
        parts += [pl.lit(f"; {column}="), _text(pl.col(column))]
    return parts


def _detail(rule: EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate, *parts: pl.Expr) -> pl.Expr:
    head = f"{rule.id}" + (f" ({rule.description})" if rule.description else "") + ": "
    tail: list[pl.Expr] = []
    if rule.unknown_age:
        group = "an adult" if rule.member == "adult" else "a child"
        note = f"; age unknown (no record gives a date of birth), counted as {group}"
        tail = [pl.when(pl.col("age_at_d").is_null()).then(pl.lit(note)).otherwise(pl.lit(""))]
    return pl.concat_str([pl.lit(head), *parts, *_codes_text(rule), *tail])


def _finish(
    rows: pl.DataFrame,
    rule: EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate,
    criterion: Criterion,
    event_date: pl.Expr,
    value: pl.Expr,
    detail: pl.Expr,
) -> pl.DataFrame:
    return rows.select(
        pl.col("household_id"),
        pl.lit(criterion.id, dtype=pl.String).alias("criterion"),
        pl.lit(rule.id, dtype=pl.String).alias("rule_id"),
        pl.col("person_id"),
        pl.lit(rule.source, dtype=pl.String).alias("source"),
        pl.col("record_id"),
        event_date.cast(pl.Date).alias("event_date"),
        value.cast(pl.String).alias("value"),
        detail.cast(pl.String).alias("detail"),
    )


def _evaluate_rule(
    rule: EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate,
    criterion: Criterion,
    extracts: Mapping[str, pl.DataFrame],
    ctx: _Context,
) -> pl.DataFrame | None:
    extra = ["date_of_birth"] if isinstance(rule, EventInWindow) and rule.under_18_at else []
    if isinstance(rule, RateAtLeast):
        extra = [ctx.term_column, ctx.term_end_column]
    rows = _source_rows(rule.source, extracts, [*rule.columns(), *extra], ctx)
    if rows is None:
        return None
    rows = rows.filter(_member_filter(rule.member, rule.unknown_age))
    if isinstance(rule, ValueIn):  # the most recent row is picked before the codes are judged
        return _value_in(rows, rule, criterion, ctx)
    rows = rows.filter(_code_filter(rule))
    if isinstance(rule, EventInWindow):
        return _event_in_window(rows, rule, criterion, ctx)
    if isinstance(rule, CountAtLeast):
        return _count_at_least(rows, rule, criterion, ctx)
    if isinstance(rule, RateAtLeast):
        return _rate_at_least(rows, rule, criterion, ctx)
    return _open_at_batch_date(rows, rule, criterion, ctx)


def _event_in_window(
    rows: pl.DataFrame, rule: EventInWindow, criterion: Criterion, ctx: _Context
) -> pl.DataFrame | None:
    window = ctx.window(rule.window, rule.date)
    if window is None:
        return None
    condition, wording = window
    parts = [pl.lit(f"{rule.date} "), _text(pl.col(rule.date)), pl.lit(f" in the {wording}")]
    if rule.under_18_at:
        dob = pl.coalesce(pl.col("resolved_dob"), pl.col("date_of_birth"))
        age = age_expr(dob, pl.col(rule.under_18_at))
        rows = rows.with_columns(age.alias("_age_then"))
        condition = condition & is_child(pl.col("_age_then"))
        parts += [
            pl.lit("; aged "),
            _text(pl.col("_age_then")),
            pl.lit(f" on {rule.under_18_at} "),
            _text(pl.col(rule.under_18_at)),
        ]
    hits = rows.filter(condition)
    return _finish(hits, rule, criterion, pl.col(rule.date), _value_expr(rule), _detail(rule, *parts))


def _count_at_least(rows: pl.DataFrame, rule: CountAtLeast, criterion: Criterion, ctx: _Context) -> pl.DataFrame | None:
    window = ctx.window(rule.window, rule.date)
    if window is None:
        return None
    condition, wording = window
    hits = (
        rows.filter(condition)
        .with_columns(pl.len().over("person_id").cast(pl.Int64).alias("_n"))
        .filter(pl.col("_n") >= rule.n)
    )
    value = pl.concat_str([pl.col("_n").cast(pl.String), pl.lit(f" {rule.unit}")])
    detail = _detail(
        rule,
        pl.col("_n").cast(pl.String),
        pl.lit(f" (at least {rule.n}) with {rule.date} in the {wording}; this one {rule.date} "),
        _text(pl.col(rule.date)),
    )
    return _finish(hits, rule, criterion, pl.col(rule.date), value, detail)


def _rate_at_least(rows: pl.DataFrame, rule: RateAtLeast, criterion: Criterion, ctx: _Context) -> pl.DataFrame | None:
    if ctx.terms.height == 0:
        return None
    fraction = rule.threshold_fraction()
    p, q = fraction.numerator, fraction.denominator
    numerator = pl.sum_horizontal([pl.col(c).fill_null(0) for c in rule.numerator]).cast(pl.Int64)
    in_terms = rows.filter(pl.col(ctx.term_column).is_in(ctx.terms["term"].implode()).fill_null(False))
    summed = in_terms.with_columns(
        numerator.alias("_num_row"),
        pl.col(rule.denominator).fill_null(0).cast(pl.Int64).alias("_den_row"),
    ).with_columns(
        pl.col("_num_row").sum().over("person_id").alias("_num"),
        pl.col("_den_row").sum().over("person_id").alias("_den"),
    )
    hits = summed.filter((pl.col("_den") > 0) & (pl.col("_num") * q >= pl.col("_den") * p))
    tenths = (pl.col("_num") * 2000 + pl.col("_den")) // (2 * pl.col("_den"))  # rounded, half up
    percent = pl.concat_str([(tenths // 10).cast(pl.String), pl.lit("."), (tenths % 10).cast(pl.String), pl.lit("%")])
    label = f" {rule.label}" if rule.label else ""
    value = pl.concat_str(
        [
            percent,
            pl.lit(f"{label} ("),
            pl.col("_num").cast(pl.String),
            pl.lit("/"),
            pl.col("_den").cast(pl.String),
            pl.lit(")"),
        ]
    )
    threshold_text = f"{float(fraction) * 100:g}%"
    detail = _detail(
        rule,
        pl.lit("total "),
        pl.col("_num").cast(pl.String),
        pl.lit("/"),
        pl.col("_den").cast(pl.String),
        pl.lit(" = "),
        percent,
        pl.lit(f" >= {threshold_text} over the last complete {ctx.terms_text}; this row "),
        _text(pl.col(ctx.term_column)),
        pl.lit(" "),
        pl.col("_num_row").cast(pl.String),
        pl.lit("/"),
        pl.col("_den_row").cast(pl.String),
    )
    return _finish(hits, rule, criterion, pl.col(ctx.term_end_column), value, detail)


def _value_in(rows: pl.DataFrame, rule: ValueIn, criterion: Criterion, ctx: _Context) -> pl.DataFrame | None:
    d = pl.lit(ctx.as_of, dtype=pl.Date)
    latest = rows.filter((pl.col(rule.as_at) <= d).fill_null(False)).filter(
        pl.col(rule.as_at) == pl.col(rule.as_at).max().over("person_id")
    )
    hits = latest.filter(_code_filter(rule))
    detail = _detail(
        rule,
        pl.lit(f"the person's most recent row with {rule.as_at} <= {ctx.as_of}: {rule.as_at} "),
        _text(pl.col(rule.as_at)),
    )
    return _finish(hits, rule, criterion, pl.col(rule.as_at), _value_expr(rule), detail)


def _open_at_batch_date(
    rows: pl.DataFrame, rule: OpenAtBatchDate, criterion: Criterion, ctx: _Context
) -> pl.DataFrame | None:
    d = pl.lit(ctx.as_of, dtype=pl.Date)
    if rule.during is None:
        first = ctx.as_of
        wording = f"open at {ctx.as_of}"
    else:
        day = ctx.window_first_day(rule.during)
        if day is None:
            return None
        first = day
        wording = f"open at some time from {first} to {ctx.as_of}"
    ended_after = (pl.col(rule.end) >= pl.lit(first, dtype=pl.Date)).fill_null(False)
    condition = (pl.col(rule.start) <= d) & (
        ended_after if rule.end_required else pl.col(rule.end).is_null() | ended_after
    )
    hits = rows.filter(condition)
    detail = _detail(
        rule,
        pl.lit(f"{wording}: {rule.start} "),
        _text(pl.col(rule.start)),
        pl.lit(f", {rule.end} "),
        _text(pl.col(rule.end)),
    )
    return _finish(hits, rule, criterion, pl.col(rule.start), _value_expr(rule), detail)


def _member_present(rule: MemberPresent, gate: Criterion, ctx: _Context) -> pl.DataFrame:
    """A member of the age asked, shown by the first of their placed records (by source, record id)."""
    condition = _member_filter(rule.member)
    if rule.max_age is not None:
        condition = condition & (pl.col("age_at_d") <= rule.max_age).fill_null(False)
    rows = (
        ctx.index.join(ctx.persons, on="person_id", how="inner")
        .filter(condition)
        .sort("household_id", "person_id", "source", "record_id")
        .unique(subset=["household_id", "person_id"], keep="first", maintain_order=True)
    )
    head = f"{rule.id}" + (f" ({rule.description})" if rule.description else "") + ": "
    detail = pl.concat_str(
        [
            pl.lit(head),
            pl.lit("aged "),
            _text(pl.col("age_at_d")),
            pl.lit(f" at {ctx.as_of}, born "),
            _text(pl.col("resolved_dob")),
            pl.lit("; shown by "),
            pl.col("source"),
            pl.lit(" "),
            pl.col("record_id"),
        ]
    )
    return rows.select(
        pl.col("household_id"),
        pl.lit(gate.id, dtype=pl.String).alias("criterion"),
        pl.lit(rule.id, dtype=pl.String).alias("rule_id"),
        pl.col("person_id"),
        pl.col("source"),
        pl.col("record_id"),
        pl.col("resolved_dob").cast(pl.Date).alias("event_date"),
        pl.concat_str([pl.lit(f"{rule.member} aged "), pl.col("age_at_d").cast(pl.String)]).alias("value"),
        detail.cast(pl.String).alias("detail"),
    )
