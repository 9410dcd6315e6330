"""Error profiles: each profile's faults at about their rates, truth still exact, twins apart.

Property-style checks on a few thousand households per profile: rates are compared with
generous tolerances (a binomial count of a few hundred varies by about 10%).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from tfident.errors import ConfigError
from tfident.ingest.sources import PERSON_SOURCES as ALL_PERSON_SOURCES
from tfident.ingest.sources import VERSION_1_SOURCES
from tfident.synth import PROFILE_NAMES, SyntheticBatch, batch_from_state, generate_batch, generate_months, synthesise
from tfident.synth import faults as ft
from tfident.synth.identifiers import upn_is_valid
from tfident.synth.months import ADDRESS_COLUMNS, MonthState, first_month
from tfident.synth.names import DIMINUTIVES
from tfident.synth.population import one_name
from tfident.synth.profiles import DEFAULT_PROFILE, Profile, builtin_profiles, get_profile

# The default batch is written to contract version 1: the sources (and columns) added later
# are generated only when asked (tfident.synth ... supporting_families=True).
PERSON_SOURCES = tuple(s for s in ALL_PERSON_SOURCES if s in VERSION_1_SOURCES)
AS_OF = dt.date(2026, 10, 31)
HOUSEHOLDS = 2500
SEED = 21


@pytest.fixture(scope="module")
def states() -> dict[str, MonthState]:
    """Month 0 of one council of 2,500 households under every built-in profile."""
    return {name: first_month(HOUSEHOLDS, SEED, AS_OF, get_profile(name)) for name in PROFILE_NAMES}


@pytest.fixture(scope="module")
def batches(states: dict[str, MonthState]) -> dict[str, SyntheticBatch]:
    return {name: batch_from_state(state) for name, state in states.items()}


def _records(batch: SyntheticBatch) -> pl.DataFrame:
    """Every person record with its source and truth."""
    frames = [
        batch.extracts[s]
        .select("record_id", "forename", "middle_names", "surname", "date_of_birth", "postcode")
        .with_columns(pl.lit(s).alias("source"))
        for s in PERSON_SOURCES
    ]
    return pl.concat(frames).join(batch.truth_persons, on=["source", "record_id"])


def _share(batch: SyntheticBatch, fault: str, among: pl.DataFrame | None = None) -> float:
    """The share of records (of ``among``, default all) logged with ``fault``."""
    records = (among if among is not None else batch.truth_persons).select("source", "record_id")
    hit = batch.faults.filter(pl.col("fault") == fault).select("source", "record_id").unique()
    return records.join(hit, on=["source", "record_id"]).height / max(records.height, 1)


def test_builtin_profiles_are_the_named_choices() -> None:
    """``profiles.yaml`` holds exactly the names offered, and ``default`` changes nothing."""
    assert tuple(builtin_profiles()) == PROFILE_NAMES
    assert len(PROFILE_NAMES) >= 4
    assert builtin_profiles()["default"].is_default
    assert get_profile(None) is DEFAULT_PROFILE
    assert get_profile("default").rates_for("asb") == ft.rates("asb") | ft.PROFILE_RATES
    for name in PROFILE_NAMES[1:]:
        profile = get_profile(name)
        assert not profile.is_default
        assert profile.description
        for source in PERSON_SOURCES:
            rates = profile.rates_for(source)
            assert all(0 <= v <= 1 for v in rates.values()), (name, source)
            # the one-of-several choices must leave room for "no fault"
            forename = ("nickname", "typo", "initial", "missing", "middle")
            assert sum(rates[f"forename_{k}"] for k in forename) < 0.5
            assert sum(rates[f"postcode_{k}"] for k in ("no_space", "lower", "wrong", "missing")) < 0.5
            assert rates["id_missing"] + rates["id_invalid"] + rates["id_other_person"] < 0.6


def test_profiles_are_frozen_and_strict(tmp_path: Path) -> None:
    """A profile is frozen; unknown keys and unknown rates are errors; a YAML path loads one."""
    messy = get_profile("messy")
    with pytest.raises(ValidationError):
        messy.name = "other"
    with pytest.raises(ValidationError):
        Profile(name="x", bogus=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="unknown rate"):
        Profile(name="x", rates={"dob_wobble": 0.1})
    with pytest.raises(ValidationError, match="unknown source"):
        Profile(name="x", sources={"library": {"lag": 0.1}})
    path = tmp_path / "mine.yaml"
    path.write_text("description: mine\nrates:\n  name_swapped: 0.05\n", encoding="utf-8")
    mine = get_profile(str(path))
    assert mine.name == "mine"
    assert mine.rates_for("asb")["name_swapped"] == 0.05
    (tmp_path / "bad.yaml").write_text("rates:\n  nonsense: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid synth profile"):
        get_profile(str(tmp_path / "bad.yaml"))


def test_an_unknown_profile_is_one_clear_error_listing_the_choices(tmp_path: Path) -> None:
    """An unknown name raises one ConfigError naming every built-in; the CLI exits 2 with it."""
    with pytest.raises(ConfigError) as error:
        get_profile("mesy")
    message = str(error.value)
    assert "'mesy'" in message
    assert all(name in message for name in PROFILE_NAMES)
    with pytest.raises(ConfigError):
        generate_batch(10, 1, AS_OF, profile="mesy")

    from tfident.cli import app

    result = CliRunner().invoke(
        app, ["synth", "--households", "10", "--as-of", "2026-10-31", "--out", str(tmp_path), "--profile", "mesy"]
    )
    assert result.exit_code == 2
    assert "unknown synth profile" in result.output
    assert "lagged" in result.output
    assert not (tmp_path / "asb.csv").exists()


def test_cli_profile_writes_the_profiles_batch(tmp_path: Path) -> None:
    """``tfident synth --profile messy`` writes what ``synthesise(profile="messy")`` writes."""
    from tfident.cli import app

    args = ["synth", "--households", "40", "--seed", "3", "--as-of", "2026-10-31", "--out", str(tmp_path / "cli")]
    result = CliRunner().invoke(app, [*args, "--profile", "messy"])
    assert result.exit_code == 0, result.output
    synthesise(40, 3, AS_OF, tmp_path / "api", profile="messy")
    assert _digest(tmp_path / "cli") == _digest(tmp_path / "api")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.csv"))
    }


@pytest.mark.parametrize("profile", ["clean", "messy", "lagged"])
def test_same_seed_and_profile_same_bytes(profile: str, tmp_path: Path) -> None:
    """The same seed and profile give the same bytes; another profile other bytes."""
    synthesise(120, 5, AS_OF, tmp_path / "a", profile=profile)
    synthesise(120, 5, AS_OF, tmp_path / "b", profile=profile)
    synthesise(120, 5, AS_OF, tmp_path / "c")
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a == b
    assert a["truth/faults.csv"] != c["truth/faults.csv"]


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_truth_is_consistent_under_every_profile(profile: str, batches: dict[str, SyntheticBatch]) -> None:
    """Every record is in the truth once, in its true person's household; the people and the
    households (and so every truth judgement) are the same under every profile.
    """
    batch = batches[profile]
    keys = pl.concat([batch.extracts[s].select(pl.lit(s).alias("source"), "record_id") for s in PERSON_SOURCES]).sort(
        "source", "record_id"
    )
    assert keys.equals(batch.truth_persons.select("source", "record_id"))
    assert batch.truth_persons.select("source", "record_id").is_unique().all()
    by_person = batch.truth_persons.join(
        batch.people.select("true_person_id", pl.col("true_household_id").alias("home")), on="true_person_id"
    )
    assert by_person.height == batch.truth_persons.height
    assert (by_person["true_household_id"] == by_person["home"]).all()
    assert set(batch.truth_persons["true_household_id"]) <= set(batch.truth_households["true_household_id"])
    assert batch.faults.join(batch.truth_persons, on=["source", "record_id"], how="anti").is_empty()
    assert set(batch.faults["fault"]) <= set(ft.ALL_FAULT_KINDS)
    default = batches["default"]
    assert batch.people.equals(default.people)
    # an added record (the one that shows a family's move) is an ASB incident: no criterion changes
    assert batch.truth_households.equals(default.truth_households)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_twins_never_share_a_principal_name(profile: str, batches: dict[str, SyntheticBatch]) -> None:
    """Twins have different names, and no profile fault writes one twin with the other's forename."""
    batch = batches[profile]
    twins = batch.people.filter("twin").select("true_person_id", "true_household_id", "date_of_birth", "forename")
    pairs = twins.join(twins, on=["true_household_id", "date_of_birth"], suffix="_co").filter(
        pl.col("true_person_id") != pl.col("true_person_id_co")
    )
    assert pairs.height > 20
    for first, second in zip(pairs["forename"], pairs["forename_co"], strict=True):
        assert not one_name(first, second)
    renamed = batch.faults.filter(pl.col("fault").is_in(["known_by_middle", "forename_diminutive"]))
    written = (
        _records(batch)
        .join(renamed, on=["source", "record_id"])
        .join(pairs.select("true_person_id", "forename_co"), on="true_person_id")
    )
    for name, co in zip(written["forename"], written["forename_co"], strict=True):
        assert not one_name(name, co), (name, co)


def test_default_adds_no_profile_fault(batches: dict[str, SyntheticBatch]) -> None:
    assert set(batches["default"].faults["fault"]) == set(ft.FAULT_KINDS)


def test_messy_per_record_faults_at_their_rates(batches: dict[str, SyntheticBatch]) -> None:
    """Each per-record fault of ``messy`` strikes about its configured share of the records exposed to it."""
    batch, rates = batches["messy"], get_profile("messy").rates_for("asb")
    records = _records(batch)
    assert _share(batch, "name_swapped") == pytest.approx(rates["name_swapped"], rel=0.3)
    assert _share(batch, "name_typo_both") == pytest.approx(rates["name_typo_both"], rel=0.3)
    assert _share(batch, "careless") == pytest.approx(rates["careless"], rel=0.3)
    assert _share(batch, "dob_year") == pytest.approx(rates["dob_year"], rel=0.35)
    # a careless record's other difference is a day digit a quarter of the time
    assert _share(batch, "dob_day_digit") == pytest.approx(rates["dob_day_digit"] + rates["careless"] / 4, rel=0.3)
    # diminutives: of the records of people whose forename has one
    has_pet = batch.people.filter(pl.col("forename").str.to_lowercase().is_in(list(DIMINUTIVES)))[
        "true_person_id"
    ].implode()
    exposed = records.filter(pl.col("true_person_id").is_in(has_pet))
    assert _share(batch, "forename_diminutive", exposed) == pytest.approx(rates["forename_diminutive"], rel=0.35)
    # a careless record: a postcode fault and exactly one other, logged beside it
    careless = batch.faults.filter(pl.col("fault") == "careless").select("source", "record_id")
    logged = batch.faults.join(careless, on=["source", "record_id"])
    assert logged.filter(pl.col("fault").str.starts_with("postcode_")).height >= careless.height


def test_messy_date_of_birth_faults_are_the_evaluators(batches: dict[str, SyntheticBatch]) -> None:
    """Day digits are off by 9 or 10 in the same month; years by one; nothing else changes the date."""
    batch = batches["messy"]
    records = _records(batch).join(
        batch.people.select("true_person_id", pl.col("date_of_birth").alias("true_dob")), on="true_person_id"
    )
    for fault, check in (
        ("dob_day_digit", lambda d, t: d.year == t.year and d.month == t.month and abs(d.day - t.day) in (9, 10)),
        ("dob_year", lambda d, t: abs(d.year - t.year) == 1 and (d.month, d.day) in ((t.month, t.day), (2, 28))),
    ):
        only = batch.faults.group_by("source", "record_id").agg(pl.col("fault")).filter(pl.col("fault").list.len() == 1)
        hit = records.join(only.filter(pl.col("fault").list.first() == fault), on=["source", "record_id"])
        assert hit.height > 50, fault
        for d, t in zip(hit["date_of_birth"], hit["true_dob"], strict=True):
            assert check(d, t), (fault, d, t)


def test_known_by_middle_name_in_one_agency(batches: dict[str, SyntheticBatch]) -> None:
    """A child known by the middle name is so in one agency only, in every record of it there,
    and about the configured share of children with middle names are (where that agency holds them).
    """
    batch = batches["messy"]
    records = _records(batch)
    hits = batch.faults.filter(pl.col("fault") == "known_by_middle").join(records, on=["source", "record_id"])
    people = batch.people.filter(pl.col("true_person_id").is_in(hits["true_person_id"].implode()))
    assert people["middle_names"].is_not_null().all()
    assert (people["date_of_birth"] > dt.date(AS_OF.year - 18, AS_OF.month, AS_OF.day)).all()
    per_person = hits.group_by("true_person_id").agg(pl.col("source").n_unique().alias("sources"))
    assert (per_person["sources"] == 1).all()
    # every record of the child in that agency uses the middle name as forename
    chosen = hits.select("true_person_id", "source").unique()
    theirs = records.join(chosen, on=["true_person_id", "source"]).join(
        people.select("true_person_id", "middle_names"), on="true_person_id", suffix="_true"
    )
    renamed = batch.faults.filter(pl.col("fault").is_in(["name_swapped", "name_typo_both", "forename_typo"]))
    theirs = theirs.join(renamed, on=["source", "record_id"], how="anti")  # faults on top of the name
    assert theirs.height > 30
    assert (theirs["forename"].str.to_lowercase() == theirs["middle_names_true"].str.to_lowercase()).all()
    children = batch.people.filter(
        pl.col("middle_names").is_not_null() & (pl.col("date_of_birth") > dt.date(2008, 11, 1))
    ).height
    share = per_person.height / children
    assert 0.15 / 9 < share <= 0.15 * 1.2  # at most the rate; at least when one source in nine holds them


def test_rekeyed_and_temporary_upns_per_pupil_and_school_source(batches: dict[str, SyntheticBatch]) -> None:
    """A rekeyed UPN is valid, nobody's, and the same in every record of the pupil in that source;
    a temporary UPN ends in a letter; each strikes about its rate of (pupil, source) pairs.
    """
    batch, rates = batches["messy"], get_profile("messy").rates_for("school_census")
    schools = pl.concat(
        [
            batch.extracts[s].select("record_id", "upn").with_columns(pl.lit(s).alias("source"))
            for s in ("school_census", "attendance", "exclusions")
        ]
    ).join(batch.truth_persons, on=["source", "record_id"])
    faults = batch.faults.filter(pl.col("fault").is_in(["upn_rekeyed", "upn_temporary"]))
    hit = schools.join(faults, on=["source", "record_id"])
    rekeyed = hit.filter(pl.col("fault") == "upn_rekeyed")
    assert rekeyed["upn"].map_elements(upn_is_valid, return_dtype=pl.Boolean).all()
    assert rekeyed.height > 0
    assert not rekeyed["upn"].str.slice(1, 3).eq("997").any()
    temporary = hit.filter(pl.col("fault") == "upn_temporary")
    assert temporary["upn"].str.contains(r"^[A-Z][0-9]{11}[A-Z]$").all()
    assert (hit.group_by("true_person_id", "source").agg(pl.col("upn").n_unique())["upn"] == 1).all()
    pairs = schools.filter(pl.col("upn").is_not_null()).select("true_person_id", "source").unique().height
    for fault in ("upn_rekeyed", "upn_temporary"):
        n = hit.filter(pl.col("fault") == fault).select("true_person_id", "source").unique().height
        assert n / pairs == pytest.approx(rates[fault], rel=0.4), fault


def test_flats_without_their_flat_and_ambiguous_or_missing_gazetteer_entries(
    states: dict[str, MonthState], batches: dict[str, SyntheticBatch]
) -> None:
    """Flats lose the flat at about the configured rate; new-build streets are missing from the
    gazetteer for about the configured share of households; some entries are held twice.
    """
    profile = get_profile("messy")
    state, batch = states["messy"], batches["messy"]
    world = state.world
    gazetteer = batch.extracts["gazetteer"]
    assert gazetteer["uprn"].is_unique().all()
    # new builds: about new_build_share of in-area households, and their UPRNs absent
    h = world.households
    in_area = [i for i in range(len(h.hid)) if h.in_area[i]]
    unlisted = sum(1 for i in in_area if h.addr[i] in world.unlisted)
    assert unlisted / len(in_area) == pytest.approx(profile.new_build_share, rel=0.5)
    listed = set(gazetteer["uprn"])
    assert all(str(world.addresses.uprn[a]) not in listed for a in world.unlisted)
    assert gazetteer.height == world.n_gazetteer - len(world.unlisted) + len(world.duplicates)
    # duplicates: the same address text twice, under two UPRNs
    assert len(world.duplicates) / world.n_gazetteer == pytest.approx(profile.gazetteer_duplicate_share, rel=0.5)
    text = ["address_line_1", "address_line_2", "postcode"]
    assert gazetteer.group_by(text).len().filter(pl.col("len") > 1).height >= len(world.duplicates)
    # records at an unlisted address hold no UPRN
    not_listed = batch.faults.filter(pl.col("fault") == "address_not_in_gazetteer")
    assert not_listed.height > 0
    for source in PERSON_SOURCES:
        ids = not_listed.filter(pl.col("source") == source)["record_id"].implode()
        assert batch.extracts[source].filter(pl.col("record_id").is_in(ids))["uprn"].is_null().all()
    # flats written without the flat, of the records of people living in flats
    flat_people = {
        world.people.pid[m]
        for i in range(len(h.hid))
        if world.addresses.flat[h.addr[i]] is not None
        for m in h.members[i]
    }
    exposed = batch.truth_persons.filter(pl.col("true_person_id").is_in(sorted(flat_people)))
    share = _share(batch, "address_flat_missing", exposed)
    assert share == pytest.approx(profile.rates_for("asb")["address_flat_missing"], rel=0.5)


@pytest.mark.parametrize("profile", ["messy", "lagged"])
def test_a_move_only_one_members_record_shows(profile: str, states: dict[str, MonthState]) -> None:
    """For the families made so, one member's record dated on or after the move shows the new
    address; every other record of the family is dated before the move; truth keeps the family.
    """
    state = states[profile]
    w, events = state.world, state.events
    h, p = w.households, w.people
    marked = state.faults.filter(pl.col("fault") == "move_seen_by_one")
    assert marked.height >= 10
    truth = state.truth["asb"].with_row_index("row")
    rows = truth.join(marked, on=["source", "record_id"])
    asb = events.cols["asb"]
    frame = state.rows["asb"].with_row_index("row")
    for row, hid in zip(rows["row"], rows["true_household_id"], strict=True):
        person = asb["person"][row]
        hh = p.hh[person]
        assert h.hid[hh] == hid
        moved = h.move_date[hh]
        assert moved is not None
        assert moved <= asb["addr_date"][row] <= w.as_of
        others = set(h.members[hh]) - {person}
        for cols in events.cols.values():
            for who, day in zip(cols["person"], cols["addr_date"], strict=True):
                if who in others:
                    assert day < moved
        written = frame.filter(pl.col("row") == row).row(0, named=True)
        new = w.addresses.postcode[h.addr[hh]]
        faulty = state.faults.filter(pl.col("record_id") == written["record_id"])["fault"].to_list()
        if not any(f.startswith("postcode_") for f in faulty):
            assert written["postcode"] == new


def test_lagged_agencies_miss_moves_and_identifiers(
    states: dict[str, MonthState], batches: dict[str, SyntheticBatch]
) -> None:
    """``lagged``: stale addresses far more often than by default, and identifiers missing at the
    profile's per-source rate (of records whose person holds one).
    """
    lagged, default = batches["lagged"], batches["default"]
    assert _share(lagged, "address_stale") > 3 * _share(default, "address_stale")
    profile, p = get_profile("lagged"), states["lagged"].world.people
    for source, held in (("benefits", p.nino), ("school_census", p.upn), ("health", p.nhs)):
        holders = [p.pid[i] for i in range(len(p)) if held[i] and not p.no_ids[i]]
        exposed = lagged.truth_persons.filter((pl.col("source") == source) & pl.col("true_person_id").is_in(holders))
        expected = profile.rates_for(source)["id_missing"]
        assert _share(lagged, "id_missing", exposed) == pytest.approx(expected, rel=0.3), source


def test_clean_has_fewer_faults_than_default(batches: dict[str, SyntheticBatch]) -> None:
    clean, default = batches["clean"], batches["default"]
    for fault in ("forename_typo", "dob_transposed", "id_missing", "postcode_missing"):
        assert _share(clean, fault) < 0.5 * _share(default, fault), fault


def test_a_profile_holds_month_after_month() -> None:
    """Under a profile, records persist with their text into the next month, and choices about a
    person in one agency (a middle name, a wrong UPN) hold for the new records too.
    """
    months = list(generate_months(600, 4, AS_OF, 2, churn=0.1, profile="messy"))
    before, after = months
    for source in PERSON_SOURCES:
        old, new = before.extracts[source], after.extracts[source]
        joined = old.join(new, on="record_id", how="left", suffix="_next")
        # a family's move ends its housing claims (claim_end): tfident.synth.months
        other = [c for c in old.columns if c not in ("record_id", "claim_end", *ADDRESS_COLUMNS)]
        same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"{c}_next")) for c in other])
        assert joined.filter(~same).is_empty(), source
    hits = after.faults.filter(pl.col("fault").is_in(["known_by_middle", "upn_rekeyed"])).join(
        after.truth_persons, on=["source", "record_id"]
    )
    assert (hits.group_by("true_person_id", "fault").agg(pl.col("source").n_unique())["source"] == 1).all()
    for a, b in itertools.pairwise(months):
        assert set(a.truth_persons["record_id"]) <= set(b.truth_persons["record_id"])
