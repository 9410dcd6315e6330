"""The family page's case summary: why a family is on the list, on one screen.

:func:`case_summary` turns the stored family (:class:`tfident.store.review.Family`) into
what a coordinator reads before deciding: each criterion met with the members it is about
and its decisive evidence, how confident the record linkage is, and anything to check
(uncertain links, records kept apart, an address not matched). The family page and the
print view show the same summary. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

DECISIVE_ROWS = 2
"""Evidence rows shown per criterion in the summary (the newest, one per member and rule first)."""
UNCERTAIN_LISTED = 3
"""Uncertain links named in the summary; the rest are counted."""


@dataclass(frozen=True)
class CriterionSummary:
    """One criterion met: the members its evidence is about and its decisive evidence rows."""

    criterion: str
    members: tuple[str, ...]
    decisive: tuple[dict[str, Any], ...]
    n_rows: int


@dataclass(frozen=True)
class LinkSummary:
    """How sure the linkage is that each member's records are one person."""

    n_links: int
    lowest: float | None
    uncertain: tuple[dict[str, Any], ...]
    n_uncertain: int
    n_kept_apart: int
    n_ruled: int


@dataclass(frozen=True)
class CaseSummary:
    """Everything the top of the family page (and the print view) says."""

    criteria: tuple[CriterionSummary, ...]
    links: LinkSummary
    member_names: dict[str, str] = field(default_factory=dict)
    checks: tuple[str, ...] = ()


def member_label(member: dict[str, Any]) -> str:
    """A member as the summary names them: "Ann Smith (child, 14)"."""
    name = f"{member.get('forename') or ''} {member.get('surname') or ''}".strip() or str(member.get("person_id"))
    facts = [str(member["role"]) if member.get("role") else "role unknown"]
    if member.get("age") is not None:
        facts.append(str(member["age"]))
    return f"{name} ({', '.join(facts)})"


def _newest_first(row: dict[str, Any]) -> tuple[bool, int]:
    event = row.get("event_date")
    return (not isinstance(event, date), -event.toordinal() if isinstance(event, date) else 0)


def _decisive(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest row of each (member, rule) first, then the rest, newest first."""
    ordered = sorted(rows, key=lambda row: (_newest_first(row), str(row.get("rule_id")), str(row.get("record_id"))))
    seen: set[tuple[Any, Any]] = set()
    first: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for row in ordered:
        key = (row.get("person_id"), row.get("rule_id"))
        (rest if key in seen else first).append(row)
        seen.add(key)
    return first + rest


def case_summary(family: Any, review_below: float, checks: tuple[str, ...] = ()) -> CaseSummary:
    """The case summary of a stored family; links below ``review_below`` are uncertain."""
    names = {str(m["person_id"]): member_label(m) for m in family.members}
    by_criterion: dict[str, list[dict[str, Any]]] = {}
    for row in family.evidence:
        by_criterion.setdefault(str(row["criterion"]), []).append(row)
    met = [c for c in (family.candidate.get("criteria_met") or "").split(";") if c]
    order = met + [c for c in by_criterion if c not in met]
    criteria = []
    for criterion in order:
        rows = [
            {**row, "member": names.get(str(row.get("person_id")), "a record not placed with a member")}
            for row in by_criterion.get(criterion, [])
        ]
        members = tuple(dict.fromkeys(row["member"] for row in rows))
        criteria.append(CriterionSummary(criterion, members, tuple(_decisive(rows)[:DECISIVE_ROWS]), len(rows)))
    links = list(family.links)
    uncertain = [link for link in links if link["match_probability"] < review_below]
    summary = LinkSummary(
        n_links=len(links),
        lowest=min((link["match_probability"] for link in links), default=None),
        uncertain=tuple(uncertain[:UNCERTAIN_LISTED]),
        n_uncertain=len(uncertain),
        n_kept_apart=sum(1 for link in links if not link.get("same_person")),
        n_ruled=sum(1 for link in links if link.get("ruling")),
    )
    return CaseSummary(criteria=tuple(criteria), links=summary, member_names=names, checks=checks)
