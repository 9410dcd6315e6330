"""Identifier ranges: the world's and later months' newcomers' never meet, whatever the world's size."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

import pytest

from tfident.synth.identifiers import nhs_is_valid, nino_is_valid, pnc_is_valid, upn_is_valid
from tfident.synth.months import first_month, iter_months, month_date, next_month
from tfident.synth.population import (
    NHS_STEM_MAX,
    IdRanges,
    IssuedIds,
    newcomer_pnc_serial,
    newcomer_ranges,
    nhs_step,
    stems_needed,
    world_ranges,
)

AS_OF = dt.date(2026, 10, 31)


def _identifier_digest(households: int, seed: int, months: int, churn: float) -> list[str]:
    digests = []
    for state in iter_months(households, seed, AS_OF, months, churn):
        p = state.world.people
        rows = zip(p.pid, p.nhs, p.nino, p.upn, p.pnc, strict=True)
        digests.append(hashlib.sha256("\n".join(f"{a},{b},{c},{d},{e}" for a, b, c, d, e in rows).encode()).hexdigest())
    return digests


def test_the_same_seed_gives_the_same_identifiers_as_before_the_ranges_were_shared() -> None:
    """Month 0 and a small world's month 1 keep every identifier the generator gave them before
    the world's and the newcomers' loops were merged (digests taken from that code). Month 1's
    digest changed when plain months got proven offences (a first arrest issues a PNC ID:
    ``tfident.synth.followup.FollowUp`` as the routine records of ``iter_months``).
    """
    assert _identifier_digest(150, 5, 2, 0.2) == [
        "b94576a675f60c673ee45817f7ae44d8d27f90ad72553cb24b459223d1e0ebfc",
        "7d4c0ed07204ddabdb9af291e7e37d8498851d199bdefe19df78a649a164e228",
    ]


def test_small_worlds_keep_the_newcomers_old_ranges() -> None:
    """Above a small world's identifiers, newcomers keep the ranges they always had."""
    issued = IssuedIds(nhs_stem=405_000_000, nino_serial=420_000, pnc_serial=950_000)
    assert newcomer_ranges(1, 120, issued) == IdRanges(703_000_000, 999_999, 900, 510_000, 5_000, 40, 500, 3000)
    assert newcomer_ranges(7, 120, issued).nhs_first == 721_000_000
    assert newcomer_pnc_serial(1, issued) == 7_100_000
    assert world_ranges(5000) == IdRanges(400_000_000, 9_999_999, 900, 100_000, 100_000, 400, 0, 2000)


@pytest.mark.parametrize(("people", "months"), [(700_000, 120), (1_200_000, 120), (2_000_000, 120), (5_000_000, 60)])
def test_newcomers_nhs_numbers_start_above_a_large_worlds_for_years(people: int, months: int) -> None:
    """In a world of ``people`` (whose NHS stems reach far past the 703,000,000 newcomers used to
    start at), each month's newcomers (1.25% of the people, the arrivals of 5% churn) get a range
    above the world's last stem and the month before's, and years of months fit in 9 digits.
    """
    step = nhs_step(people)
    main_last = 410_000_000 + int(people * 1.1 * (step + 1) / 2)  # the world's stems start below 410,000,000
    assert main_last > 703_000_000 + 999_999  # the old newcomers' range of month 1 lay inside the world's
    issued = IssuedIds(nhs_stem=main_last)
    newcomers = people // 80
    for month in range(1, months + 1):
        ranges = newcomer_ranges(month, newcomers, issued)
        assert ranges.nhs_first >= issued.nhs_stem  # the first stem is at least one step above
        assert 1 <= ranges.nhs_step <= 900
        last = ranges.nhs_first + ranges.nhs_spread + stems_needed(newcomers, ranges.nhs_step)
        assert last <= NHS_STEM_MAX, month
        issued.nhs_stem = last


def test_newcomers_nino_and_pnc_serials_start_above_the_last_issued() -> None:
    """NINO and PNC serials of newcomers start above the last ones issued, while those have not
    gone round their 6 or 7 digits (then every serial is in use and the old start is kept).
    """
    issued = IssuedIds(nhs_stem=405_000_000, nino_serial=906_541, pnc_serial=7_400_000)
    assert newcomer_ranges(1, 100, issued).nino_first == 906_541
    assert newcomer_pnc_serial(2, issued) == 7_400_000
    assert newcomer_pnc_serial(5, issued) == 7_500_000
    gone_round = IssuedIds(nhs_stem=405_000_000, nino_serial=2_163_277, pnc_serial=12_000_000)
    assert newcomer_ranges(1, 100, gone_round).nino_first == 510_000
    assert newcomer_pnc_serial(1, gone_round) == 7_100_000


def test_newcomers_get_identifiers_above_a_large_worlds_last_ones() -> None:
    """With the world's identifiers issued as far as a world of about 1.2 million people's,
    the people arriving in month 1 get valid NHS numbers and NINOs above them.
    """
    state = first_month(60, 3, AS_OF)
    first_new = len(state.world.people)
    state.world.issued.nhs_stem = 971_234_567
    state.world.issued.nino_serial = 900_000
    state = next_month(state, month_date(AS_OF, 1), churn=0.5)
    p = state.world.people
    newcomers = range(first_new, len(p))
    assert len(newcomers) >= 10
    stems = [int(p.nhs[i][:9]) for i in newcomers]
    assert all(nhs_is_valid(p.nhs[i]) for i in newcomers)
    assert min(stems) > 971_234_567
    assert max(stems) <= NHS_STEM_MAX
    ninos = [p.nino[i] for i in newcomers if p.nino[i]]
    assert ninos
    assert all(nino_is_valid(n) and int(n[2:8]) > 900_000 for n in ninos)
    assert state.world.issued.nhs_stem == max(stems)


def test_running_out_of_nhs_numbers_is_an_error() -> None:
    """When no 9-digit stems are left for the newcomers, it says so."""
    state = first_month(40, 3, AS_OF)
    state.world.issued.nhs_stem = NHS_STEM_MAX - 3
    with pytest.raises(ValueError, match="run out of 9-digit NHS number stems"):
        next_month(state, month_date(AS_OF, 1), churn=0.5)


@pytest.mark.parametrize(("households", "seed", "months", "churn"), [(200, 3, 6, 0.3), (300, 1, 12, 0.05)])
def test_identifiers_are_unique_across_months(households: int, seed: int, months: int, churn: float) -> None:
    """No NHS number, NINO, UPN or PNC ID is given to two people, over all the months of a small
    world (newcomer children of one school and start year in two months once shared UPNs).
    """
    for state in iter_months(households, seed, AS_OF, months, churn):  # noqa: B007 - the last month
        pass
    p = state.world.people
    assert len(p) > households * 2
    for name, values, valid in (
        ("nhs", p.nhs, nhs_is_valid),
        ("nino", p.nino, nino_is_valid),
        ("upn", p.upn, upn_is_valid),
        ("pnc", p.pnc, pnc_is_valid),
    ):
        issued = [v for v in values if v]
        repeated = [v for v, n in Counter(issued).items() if n > 1]
        assert not repeated, (name, repeated)
        assert all(valid(v) for v in issued), name
