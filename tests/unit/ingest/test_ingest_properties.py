"""Property tests of the date parser and the postcode, UPN and NINO normalisers."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tfident.ingest import identifiers as ids
from tfident.ingest.dates import EARLIEST, LATEST, date_fault, excel_serial, parse_date, parse_dates

relaxed = settings(deadline=None, max_examples=150)

dates = st.dates(min_value=EARLIEST, max_value=LATEST)
junk = st.text(max_size=30)


def spaced(value: str, data: st.DataObject) -> str:
    """``value`` with random case and spaces between characters."""
    out = []
    for ch in value:
        out.append(ch.lower() if data.draw(st.booleans()) else ch)
        out.append(data.draw(st.sampled_from(["", "", " "])))
    return " " + "".join(out) + " "


# --- dates ------------------------------------------------------------------------


@relaxed
@given(dates)
def test_date_round_trips(day: dt.date) -> None:
    assert parse_date(day.isoformat()) == day
    assert parse_date(day.strftime("%d/%m/%Y"), ["DD/MM/YYYY"]) == day
    assert parse_date(f" {day.isoformat()} 13:45:00 ") == day
    assert date_fault(day.isoformat()) is None


@relaxed
@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=LATEST))
def test_excel_serial_round_trips(day: dt.date) -> None:
    assert parse_date(str(excel_serial(day)), excel_serials=True) == day
    assert parse_date(f"{excel_serial(day)}.5", excel_serials=True) == day


@relaxed
@given(st.dates(max_value=EARLIEST - dt.timedelta(days=1)) | st.dates(min_value=LATEST + dt.timedelta(days=1)))
def test_dates_outside_the_range_are_faults(day: dt.date) -> None:
    assert date_fault(day.isoformat()) == "date out of range"


@relaxed
@given(junk)
def test_date_parsing_never_raises(text: str) -> None:
    parsed = parse_date(text, ["DD/MM/YYYY"], excel_serials=True)
    assert parsed is None or isinstance(parsed, dt.date)
    assert date_fault(text, ["DD/MM/YYYY"]) in {None, "unparseable date", "date out of range"}


@relaxed
@given(st.lists(junk | dates.map(dt.date.isoformat), max_size=20))
def test_date_expression_agrees_with_scalar(values: list[str]) -> None:
    series = parse_dates(pl.Series(values, dtype=pl.String), ["DD/MM/YYYY"])
    assert series.to_list() == [parse_date(v, ["DD/MM/YYYY"]) for v in values]


# --- postcodes --------------------------------------------------------------------

postcodes = st.from_regex(ids.POSTCODE_COMPACT_PATTERN, fullmatch=True)


@relaxed
@given(postcodes, st.data())
def test_postcode_round_trips(compact: str, data: st.DataObject) -> None:
    canonical = f"{compact[:-3]} {compact[-3:]}"
    assert ids.normalise_postcode(spaced(compact, data)) == canonical
    assert ids.normalise_postcode(canonical) == canonical
    assert ids.postcode_outward(canonical) == compact[:-3]


@relaxed
@given(junk)
def test_postcode_never_raises_and_is_idempotent(text: str) -> None:
    normal = ids.normalise_postcode(text)
    assert normal is None or ids.normalise_postcode(normal) == normal


@relaxed
@given(st.lists(junk | postcodes, max_size=20))
def test_postcode_expression_agrees_with_scalar(values: list[str]) -> None:
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    assert frame.select(ids.postcode_expr(pl.col("v")))["v"].to_list() == [ids.normalise_postcode(v) for v in values]


# --- UPN --------------------------------------------------------------------------

upn_bodies = st.builds(
    lambda digits, last: digits + last,
    st.text(alphabet="0123456789", min_size=11, max_size=11),
    st.sampled_from("0123456789" + ids.UPN_ALPHABET),
)


@relaxed
@given(upn_bodies, st.data())
def test_upn_round_trips(body: str, data: st.DataObject) -> None:
    upn = ids.upn_check_letter(body) + body
    assert ids.normalise_upn(upn) == upn
    assert ids.normalise_upn(spaced(upn, data)) == upn


@relaxed
@given(upn_bodies, st.integers(min_value=1, max_value=11), st.integers(min_value=1, max_value=9))
def test_upn_single_digit_error_fails_the_check(body: str, position: int, delta: int) -> None:
    upn = ids.upn_check_letter(body) + body
    wrong = upn[:position] + str((int(upn[position]) + delta) % 10) + upn[position + 1 :]
    assert ids.normalise_upn(wrong) is None
    assert ids.upn_check_letter(body) in ids.UPN_ALPHABET


@relaxed
@given(st.lists(junk | upn_bodies.map(lambda b: ids.upn_check_letter(b) + b), max_size=20))
def test_upn_never_raises_and_expression_agrees(values: list[str]) -> None:
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    assert frame.select(ids.upn_expr(pl.col("v")))["v"].to_list() == [ids.normalise_upn(v) for v in values]


# --- NINO -------------------------------------------------------------------------

ninos = st.from_regex(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]?$", fullmatch=True).filter(
    lambda n: n[:2] not in ids.NINO_BANNED_PREFIXES
)


@relaxed
@given(ninos, st.data())
def test_nino_round_trips(nino: str, data: st.DataObject) -> None:
    assert ids.normalise_nino(nino) == nino
    assert ids.normalise_nino(spaced(nino, data)) == nino


@relaxed
@given(
    st.sampled_from(ids.NINO_BANNED_PREFIXES + ("DA", "AO", "QQ")), st.from_regex(r"^[0-9]{6}[A-D]$", fullmatch=True)
)
def test_nino_disallowed_prefixes(prefix: str, rest: str) -> None:
    assert ids.normalise_nino(prefix + rest) is None


@relaxed
@given(st.lists(junk | ninos, max_size=20))
def test_nino_never_raises_and_expression_agrees(values: list[str]) -> None:
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    assert frame.select(ids.nino_expr(pl.col("v")))["v"].to_list() == [ids.normalise_nino(v) for v in values]
