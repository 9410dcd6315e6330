"""Rule packs as data: the pydantic models behind ``config/criteria/*.yaml``.

A pack names its rule set and version, says how the school terms are read, lists its
criteria (each a group of rules, met when any rule fires) and says how the criteria
combine into eligibility. Rule kinds are a discriminated union on ``kind``:

``event_in_window``
    a record whose date falls in a window (the 12-month window or the education
    window), optionally filtered on code columns and on the member's age.
``count_at_least``
    at least ``n`` such records for one person (e.g. three fixed exclusions).
``rate_at_least``
    for one person, the sum of ``numerator`` over the sum of ``denominator`` across the
    last complete terms is at least ``threshold`` (no judgement when the sum is 0).
``value_in``
    the person's current status: their most recent row dated on or before the batch
    date matches the filters (e.g. provision ``NOT_ON_ROLL``).
``open_at_batch_date``
    a claim or episode live at the batch date: ``start <= D`` and ``end`` blank or
    ``>= D`` (with ``end_required``, a blank end does not count: an expected date of
    birth still to come).
``member_present``
    (gates only) a member of the household of the given age at the batch date, shown
    by any of their records (e.g. a dependent child).

A pack may have a ``gate``: rules of which at least one must fire for a household to be
eligible at all (Supporting Families: a dependent child or an expectant parent). The
``needs_at_least`` eligibility counts, among the criteria (headlines), either the
distinct needs met (rule ids: ``count: needs``) or the criteria met (``count:
headlines``), and needs the gate.

Every column and code a rule names is checked against the data contract
(``tfident.ingest.sources.SOURCES``), so a misspelt key, kind, column or code is one
``ConfigError`` naming the file, the key and the choices.
"""

from __future__ import annotations

import types
import typing
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from tfident.config import StrictModel, config_names, config_path, load_yaml
from tfident.errors import ConfigError
from tfident.households.roles import AgeGroup
from tfident.ingest.sources import SOURCES

Window = Literal["12_months", "education_window"]
"""``12_months``: D - 1 year < d <= D. ``education_window``: first day of the earliest
of the last complete terms <= d <= D."""

Member = Literal["any", AgeGroup]
"""Who the rule applies to, by age at the batch date (``tfident.households.roles``: a person
without a date of birth is neither adult nor child, unless the rule sets ``unknown_age``)."""

CodeFilter = dict[str, list[str]]
"""Column name -> allowed (or, in ``where_not``, excluded) upper-case codes."""


class TermsConfig(StrictModel):
    """How school terms are read: which extract carries them and how many make a window."""

    source: str = "attendance"
    term: str = "term"
    start: str = "term_start"
    end: str = "term_end"
    count: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _check_columns(self) -> TermsConfig:
        _check_source_columns(self.source, [self.term, self.start, self.end])
        return self


class _RuleBase(StrictModel):
    """Fields every rule has: a stable id, the source it reads and who it applies to."""

    id: str = Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")
    description: str = ""
    source: str
    member: Member = "any"
    unknown_age: bool = False
    """With ``member: adult`` or ``member: child``: a member of unknown age (no record of theirs gives a
    date of birth) counts too, and the evidence says so. For a rule whose records only that age group
    makes (an out-of-work benefit claim: DWP pays them to adults), the record itself is the evidence of
    age that the person's records lack."""
    where: CodeFilter = Field(default_factory=dict)
    where_not: CodeFilter = Field(default_factory=dict)
    where_any: list[CodeFilter] = Field(default_factory=list)
    value: list[str] = Field(default_factory=list)
    """Columns whose values (space-joined, blanks skipped) make the evidence ``value``."""
    basis: str = ""
    """Which published text the rule (a need descriptor) follows, with its verification tag ([V] verified,
    [D] not verified against the descriptor annex). Required by packs with ``needs_at_least`` eligibility."""

    @field_validator("value", mode="before")
    @classmethod
    def _value_one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("where", "where_not")
    @classmethod
    def _upper_codes(cls, codes: CodeFilter) -> CodeFilter:
        return {column: [code.strip().upper() for code in values] for column, values in codes.items()}

    @field_validator("where_any")
    @classmethod
    def _upper_alternatives(cls, alternatives: list[CodeFilter]) -> list[CodeFilter]:
        return [
            {column: [code.strip().upper() for code in values] for column, values in alternative.items()}
            for alternative in alternatives
        ]

    def columns(self) -> list[str]:
        """Every extract column the rule reads."""
        return [
            *self.where,
            *self.where_not,
            *(c for alternative in self.where_any for c in alternative),
            *self.value,
        ]

    def code_columns(self) -> list[str]:
        """The columns the rule filters on, in order, each once."""
        names = [*self.where, *self.where_not, *(c for alternative in self.where_any for c in alternative)]
        return list(dict.fromkeys(names))

    @model_validator(mode="after")
    def _check_source(self) -> _RuleBase:
        if self.unknown_age and self.member == "any":
            raise ValueError("unknown_age needs member: adult or member: child (member: any counts everyone)")
        _check_source_columns(self.source, self.columns())
        for filters in (self.where, self.where_not, *self.where_any):
            _check_codes(self.source, filters)
        return self


class EventInWindow(_RuleBase):
    """A record dated in a window; optionally the member was under 18 on another date."""

    kind: Literal["event_in_window"]
    date: str
    window: Window
    under_18_at: str | None = None

    def columns(self) -> list[str]:
        """Every extract column the rule reads."""
        extra = [self.date] + ([self.under_18_at] if self.under_18_at else [])
        return super().columns() + extra

    @model_validator(mode="after")
    def _check_types(self) -> EventInWindow:
        _check_column_type(self.source, [self.date, *([self.under_18_at] if self.under_18_at else [])], "date")
        return self


class CountAtLeast(_RuleBase):
    """At least ``n`` records for one person dated in a window (events, not their size)."""

    kind: Literal["count_at_least"]
    date: str
    window: Window
    n: int = Field(ge=1)
    unit: str = "records"
    """What is counted, for the evidence value (``3 fixed exclusions``)."""

    def columns(self) -> list[str]:
        """Every extract column the rule reads."""
        return [*super().columns(), self.date]

    @model_validator(mode="after")
    def _check_types(self) -> CountAtLeast:
        _check_column_type(self.source, [self.date], "date")
        return self


class RateAtLeast(_RuleBase):
    """Sum(numerator) / sum(denominator) over the last complete terms is >= threshold."""

    kind: Literal["rate_at_least"]
    window: Literal["last_complete_terms"] = "last_complete_terms"
    numerator: list[str]
    denominator: str
    threshold: float = Field(gt=0, le=1)
    label: str = ""
    """What the rate measures, for the evidence value (``16.2% unauthorised (97/600)``)."""

    @field_validator("numerator", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def columns(self) -> list[str]:
        """Every extract column the rule reads."""
        return [*super().columns(), *self.numerator, self.denominator]

    def threshold_fraction(self) -> Fraction:
        """The threshold as an exact fraction, so 57/380 >= 0.15 holds without float error."""
        return Fraction(str(self.threshold)).limit_denominator(1_000_000)

    @model_validator(mode="after")
    def _check_types(self) -> RateAtLeast:
        _check_column_type(self.source, [*self.numerator, self.denominator], "integer")
        return self


class ValueIn(_RuleBase):
    """The person's most recent row dated on or before D matches the filters."""

    kind: Literal["value_in"]
    as_at: str

    def columns(self) -> list[str]:
        """Every extract column the rule reads."""
        return [*super().columns(), self.as_at]

    @model_validator(mode="after")
    def _check_types(self) -> ValueIn:
        _check_column_type(self.source, [self.as_at], "date")
        return self


class OpenAtBatchDate(_RuleBase):
    """A claim or episode live at D: ``start <= D`` and ``end`` blank or ``>= D``.

    With ``during`` set, open at any time in that window instead: ``start <= D`` and
    ``end`` blank or on/after the window's first day.
    """

    kind: Literal["open_at_batch_date"]
    start: str
    end: str
    during: Window | None = None
    end_required: bool = False
    """A blank ``end`` does not count as open (an expected date of birth: without one, no judgement)."""

    def columns(self) -> list[str]:
        """Every extract column the rule reads."""
        return [*super().columns(), self.start, self.end]

    @model_validator(mode="after")
    def _check_types(self) -> OpenAtBatchDate:
        _check_column_type(self.source, [self.start, self.end], "date")
        return self


Rule = Annotated[
    EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate,
    Field(discriminator="kind"),
]


class MemberPresent(StrictModel):
    """A household member of the given age at the batch date (gates only): any record of theirs shows them.

    ``max_age`` (inclusive, completed years) narrows ``member: child`` further, e.g. 15 for under 16s.
    """

    kind: Literal["member_present"]
    id: str = Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")
    description: str = ""
    member: Literal["adult", "child"]
    max_age: int | None = Field(None, ge=0)
    basis: str = ""


GateRule = Annotated[
    EventInWindow | CountAtLeast | RateAtLeast | ValueIn | OpenAtBatchDate | MemberPresent,
    Field(discriminator="kind"),
]

GATE_ID = "gate"
"""The criterion name of gate evidence rows (never a criterion column of ``household_criteria``)."""


class Gate(StrictModel):
    """Who a family must include before any need counts: met when any of its rules fires."""

    description: str = ""
    rules: list[GateRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_rule_ids(self) -> Gate:
        for rule in self.rules:
            if not rule.id.startswith(GATE_ID + "."):
                raise ValueError(f"gate rule id {rule.id!r} must start with {GATE_ID + '.'!r}")
        return self


class Criterion(StrictModel):
    """A named criterion: met when any of its rules fires for a household member."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    titles: dict[str, str] = Field(default_factory=dict)
    """The criterion's published title per framework version (``2022-04``, ``2022-10``): ids stay, titles change."""
    national: bool
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_rule_ids(self) -> Criterion:
        for rule in self.rules:
            if not rule.id.startswith(self.id + "."):
                raise ValueError(f"rule id {rule.id!r} must start with the criterion id {self.id + '.'!r}")
        return self


class NationalWithLocal(StrictModel):
    """TF1: all national criteria -> ``must_include``; all but one plus a local one -> ``may_include``."""

    kind: Literal["national_with_local"]


class AtLeast(StrictModel):
    """TF2: at least ``n`` distinct criteria (headline problems) -> ``must_include``."""

    kind: Literal["at_least"]
    n: int = Field(ge=1)


class NeedsAtLeast(StrictModel):
    """Supporting Families: the gate, and at least ``n`` needs (distinct rules met) or headlines (criteria met)."""

    kind: Literal["needs_at_least"]
    n: int = Field(ge=1)
    count: Literal["needs", "headlines"] = "headlines"


Eligibility = Annotated[NationalWithLocal | AtLeast | NeedsAtLeast, Field(discriminator="kind")]


class RulePack(StrictModel):
    """A versioned set of criteria and how they combine into eligibility."""

    ruleset: str
    version: str
    description: str = ""
    terms: TermsConfig = Field(default_factory=TermsConfig)  # type: ignore[arg-type]
    gate: Gate | None = None
    criteria: list[Criterion] = Field(min_length=1)
    eligibility: Eligibility

    @model_validator(mode="after")
    def _check_ids(self) -> RulePack:
        seen: set[str] = set()
        gate_ids = [r.id for r in self.gate.rules] if self.gate else []
        for rule_id in [c.id for c in self.criteria] + [r.id for c in self.criteria for r in c.rules] + gate_ids:
            if rule_id in seen:
                raise ValueError(f"id {rule_id!r} is used twice")
            seen.add(rule_id)
        if GATE_ID in self.criterion_ids:
            raise ValueError(f"{GATE_ID!r} is the gate's name, not a criterion id")
        if isinstance(self.eligibility, NationalWithLocal):
            if not any(c.national for c in self.criteria):
                raise ValueError("eligibility national_with_local needs at least one national criterion")
        elif isinstance(self.eligibility, NeedsAtLeast):
            if self.gate is None:
                raise ValueError("eligibility needs_at_least needs a gate (who the family must include)")
            available = len(self.rule_ids) if self.eligibility.count == "needs" else len(self.criteria)
            if self.eligibility.n > available:
                raise ValueError(
                    f"eligibility needs {self.eligibility.n} {self.eligibility.count} but the pack has {available}"
                )
            unsourced = [r.id for c in self.criteria for r in c.rules if not r.basis]
            unsourced += [r.id for r in self.gate.rules if not r.basis]
            if unsourced:
                raise ValueError(
                    "every need descriptor of a needs_at_least pack names the text it follows (basis); "
                    f"missing for {', '.join(unsourced)}"
                )
        elif self.eligibility.n > len(self.criteria):
            raise ValueError(f"eligibility needs {self.eligibility.n} criteria but the pack has {len(self.criteria)}")
        gate_rules = [r for r in self.gate.rules if not isinstance(r, MemberPresent)] if self.gate else []
        for criterion_rules in [*(c.rules for c in self.criteria), gate_rules]:
            for rule in criterion_rules:
                if isinstance(rule, RateAtLeast) and rule.source != self.terms.source:
                    raise ValueError(
                        f"rule {rule.id!r}: a rate over the last complete terms must read the terms source "
                        f"{self.terms.source!r}, not {rule.source!r}"
                    )
        return self

    @property
    def criterion_ids(self) -> list[str]:
        """The criterion ids, in pack order (the Boolean columns of ``household_criteria``)."""
        return [c.id for c in self.criteria]

    @property
    def rule_ids(self) -> list[str]:
        """The rule (need descriptor) ids of the criteria, in pack order; gate rules not included."""
        return [r.id for c in self.criteria for r in c.rules]


def _check_source_columns(source: str, columns: list[str]) -> None:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose from {', '.join(sorted(SOURCES))}")
    known = SOURCES[source].column_names
    for column in columns:
        if column not in known:
            raise ValueError(f"source {source!r} has no column {column!r}; choose from {', '.join(known)}")


def _check_column_type(source: str, columns: list[str], expected: str) -> None:
    if source not in SOURCES:
        return  # reported by _check_source_columns
    for column in columns:
        if column not in SOURCES[source].column_names:
            continue  # reported by _check_source_columns
        actual = SOURCES[source].column(column).type
        if actual != expected:
            raise ValueError(f"{source}.{column} is of type {actual!r}; this key needs a {expected} column")


def _check_codes(source: str, filters: CodeFilter) -> None:
    for column, codes in filters.items():
        allowed = SOURCES[source].column(column).codes
        if not codes:
            raise ValueError(f"column {column!r}: give at least one code")
        if allowed:
            for code in codes:
                if code not in allowed:
                    raise ValueError(f"{source}.{column} has no code {code!r}; choose from {', '.join(allowed)}")


def resolve_pack_path(name_or_path: str | Path) -> Path:
    """Turn ``phase1``/``phase2`` into ``criteria/<name>.yaml`` of the config folders; a path is used as given."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(name_or_path)
    path = config_path(f"criteria/{text}.yaml")
    if not path.exists():
        known = config_names("criteria")
        raise ConfigError(f"unknown criteria pack {text!r}; choose from {', '.join(known) or '(none found)'}")
    return path


def load_pack(name_or_path: str | Path) -> RulePack:
    """Load a rule pack by name (``phase1``, ``phase2``) or path; one ``ConfigError`` if it is wrong."""
    path = resolve_pack_path(name_or_path)
    return parse_pack(load_yaml(path), str(path))


def parse_pack(data: Any, where: str) -> RulePack:
    """Validate already-loaded YAML as a ``RulePack``, naming ``where``, each bad key and the choices."""
    try:
        return RulePack.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_pack_error(error, where)) from None


def pack_from_yaml(text: str, where: str = "<string>") -> RulePack:
    """Parse a pack from YAML text (handy in tests and notebooks)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{where}: not valid YAML ({error})") from None
    return parse_pack(data, where)


def describe_validation_error(error: ValidationError, where: str, model: type[BaseModel]) -> str:
    """One message for every problem; an unknown key also lists the keys allowed there."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(part) for part in loc) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            if allowed:
                message += f"; choose from {', '.join(allowed)}"
        elif item["type"] == "missing" and not loc:
            message += f"; expected keys {', '.join(model.model_fields)}"
        problems.append(f"  {key}: {message}")
    return f"{where}: invalid configuration\n" + "\n".join(problems)


def describe_pack_error(error: ValidationError, where: str) -> str:
    """Render a pack validation error: the file, each bad key and the choices."""
    return describe_validation_error(error, where, RulePack)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by following ``loc`` (tags of unions included)."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _step(annotation: Any, part: Any) -> Any:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field is not None else None
    if origin in (list, tuple):
        return typing.get_args(annotation)[0] if isinstance(part, int) else None
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin in (Union, types.UnionType):
        for member in typing.get_args(annotation):
            member = _unwrap(member)
            if (
                isinstance(member, type)
                and issubclass(member, BaseModel)
                and "kind" in member.model_fields
                and part in typing.get_args(member.model_fields["kind"].annotation)
            ):
                return member
        return None
    return None
