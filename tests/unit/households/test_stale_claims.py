"""An open claim that never heard of the move (docs/households.md, "An open claim left at the old
home": ``stale_claims``, cause E of "Measured on eight seeds").
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from tests.unit.households._homes import D, row
from tests.unit.households._homes import placed as _placed
from tfident.households import HouseholdsConfig, open_record_starts


def placed(rows: list[dict[str, Any]], **config: Any) -> tuple[dict[str, str], dict[str, str]]:
    """:func:`tests.unit.households._homes.placed` with ``left_behind``, ``children_rejoin`` and
    ``former_homes`` off unless told: the first two would place a mother whose every record is at OLD
    with her son whatever this rule decides (test_left_behind.py, test_children_rejoin.py), and
    ``former_homes`` places a mother seen at NEW after her son left OLD before this rule reads her
    claim (test_former_homes.py).
    """
    return _placed(rows, **{"left_behind": False, "children_rejoin": False, "former_homes": False, **config})


CLAIM_OPENED = date(2024, 6, 15)


# The mother's live claim, opened in June 2024, still gives OLD (DWP never heard of the move); her
# son's school records left OLD for NEW in April 2026; her own ASB record of August 2026 is at NEW.
CLAIM = row("MUM", "benefits", D, "OLD", CLAIM_OPENED)
KID = [
    row("KID", "attendance", date(2025, 12, 19), "OLD"),
    row("KID", "school_census", date(2026, 5, 21), "NEW"),
    row("KID", "attendance", D, "NEW"),
]
SEEN_AT_NEW = row("MUM", "asb", date(2026, 8, 3), "NEW")
# The same story in another family (C_OLD -> C_NEW), in every batch: the rule places its mother with
# her son whatever it does for the family above (it reads each claimant's own records).
CONTROL = [
    row("C_MUM", "benefits", D, "C_OLD", CLAIM_OPENED),
    row("C_MUM", "health", date(2026, 9, 1), "C_NEW"),
    row("C_KID", "attendance", date(2025, 12, 19), "C_OLD"),
    row("C_KID", "school_census", date(2026, 5, 21), "C_NEW"),
]


@pytest.mark.parametrize(
    ("rows", "config", "mum", "control"),
    [
        # E: her own latest dated record, since the claim was opened, is where her son moved
        ([CLAIM, *KID, SEEN_AT_NEW], {}, "NEW", "C_NEW"),
        # the claim was opened at OLD in January 2026, after her son's last record there (December
        # 2025): he left OLD for NEW all the same, and her own record since the claim is at NEW
        ([row("MUM", "benefits", D, "OLD", date(2026, 1, 10)), *KID, SEEN_AT_NEW], {}, "NEW", "C_NEW"),
        # a parent who stayed: her own record since the claim is at OLD; nothing of hers is at NEW
        ([CLAIM, *KID, row("MUM", "asb", date(2026, 8, 3), "OLD")], {}, "OLD", "C_NEW"),
        # only the claim: nothing of hers says she left
        ([CLAIM, *KID], {}, "OLD", "C_NEW"),
        # her own latest record is at a third address: not where the children went
        ([CLAIM, *KID, SEEN_AT_NEW, row("MUM", "health", date(2026, 9, 10), "THIRD")], {}, "OLD", "C_NEW"),
        # her record at NEW (September 2025) is older than the claim, opened at OLD in November 2025
        # while her son was there: the claim is the newer word, and she stays
        (
            [row("MUM", "benefits", D, "OLD", date(2025, 11, 1)), *KID, row("MUM", "asb", date(2025, 9, 1), "NEW")],
            {},
            "OLD",
            "C_NEW",
        ),
        # a child of the family still seen at OLD: not every child left
        ([CLAIM, *KID, SEEN_AT_NEW, row("SIS_KID", "school_census", date(2026, 10, 1), "OLD")], {}, "OLD", "C_NEW"),
        # off: the claim keeps both mothers at the old homes (the rule before)
        ([CLAIM, *KID, SEEN_AT_NEW], {"stale_claims": ()}, "OLD", "C_OLD"),
    ],
)
def test_a_claim_that_never_heard_of_the_move_does_not_keep_a_parent_seen_since_at_the_new_home(
    rows: list[dict[str, Any]], config: dict[str, Any], mum: str, control: str
) -> None:
    where, flags = placed([*rows, *CONTROL], **config)
    assert where["MUM"] == mum
    assert where["KID"] == "NEW"
    assert (flags.get("NEW") == "stale_claim") is (mum == "NEW")
    assert where["C_MUM"] == control
    assert (flags.get("C_NEW") == "stale_claim") is (control == "C_NEW")


def test_without_the_claims_start_the_rule_places_nobody() -> None:
    where, flags = placed([{**CLAIM, "opened": None}, *KID, SEEN_AT_NEW])
    assert where["MUM"] == "OLD"
    assert "NEW" not in flags


def test_a_household_the_moved_alone_rule_placed_keeps_its_flag() -> None:
    # the father has nothing since the son moved: the moved-alone rule takes him along; the mother's
    # own record takes her there too, and the household keeps the moved-alone flag
    dad = row("DAD", "domestic_abuse", date(2025, 11, 2), "OLD")
    where, flags = placed([CLAIM, *KID, SEEN_AT_NEW, dad])
    assert where["MUM"] == where["DAD"] == where["KID"] == "NEW"
    assert flags["NEW"] == "moved_together"


def test_only_sources_open_until_a_start_dated_end_may_be_listed() -> None:
    assert HouseholdsConfig(stale_claims=("benefits", "social_care")).stale_claims == ("benefits", "social_care")
    with pytest.raises(ValidationError, match="asb"):
        HouseholdsConfig(stale_claims=("asb",))
    with pytest.raises(ValidationError, match="nonsense"):
        HouseholdsConfig(stale_claims=("nonsense",))
    # a claim source whose open records are not read as dated D (open_record_sources) cannot be listed
    with pytest.raises(ValidationError, match="open_record_sources"):
        HouseholdsConfig(open_record_sources=("social_care",), stale_claims=("benefits",))


def test_open_record_starts_reads_the_claim_start_from_the_extract() -> None:
    extracts = {
        # as read: ingest types the date columns
        "benefits": pl.DataFrame({"record_id": ["DWP1", "DWP2"], "claim_start": [date(2024, 6, 15), None]}),
        "asb": pl.DataFrame({"record_id": ["A1"], "incident_date": ["2026-08-03"]}),
    }
    starts = open_record_starts(extracts, ["benefits", "social_care"])
    assert starts.to_dicts() == [{"record_key": "benefits:DWP1", "opened": date(2024, 6, 15)}]
