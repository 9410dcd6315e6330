"""Carrying person and household ids over from the previous run: merges, splits, moves."""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest

from tfident.households import household_id_for
from tfident.identity import (
    IDENTITY_EVENTS_SCHEMA,
    PERSON_MERGE,
    PERSON_SPLIT,
    CarriedIds,
    _greedy,
    _salted,
    carry_over_ids,
)
from tfident.identity import _events as events_of

AS_OF = date(2026, 11, 30)


def _new_run(persons: dict[str, tuple[list[str], int | None]]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Frames as the households stage gives them: ``{link person id: (record keys, uprn)}``."""
    records = pl.DataFrame(
        [
            (key, pid, household_id_for(uprn) if uprn is not None else None)
            for pid, (keys, uprn) in persons.items()
            for key in keys
        ],
        schema={"record_key": pl.String, "person_id": pl.String, "household_id": pl.String},
        orient="row",
    )
    residents = pl.DataFrame(
        [
            (pid, household_id_for(uprn) if uprn is not None else None, uprn, "adult")
            for pid, (_, uprn) in sorted(persons.items())
        ],
        schema={"person_id": pl.String, "household_id": pl.String, "uprn": pl.Int64, "role": pl.String},
        orient="row",
    )
    households = (
        residents.filter(pl.col("household_id").is_not_null())
        .group_by("household_id", "uprn")
        .agg(pl.len().cast(pl.Int64).alias("n_members"))
        .sort("household_id")
    )
    return records, residents, households


def _previous(persons: dict[str, tuple[list[str], str | None, int | None]]) -> pl.DataFrame:
    """The previous run's index: ``{person id: (record keys, household id, uprn)}``."""
    return pl.DataFrame(
        [(key, pid, hid, uprn) for pid, (keys, hid, uprn) in persons.items() for key in keys],
        schema={"record_key": pl.String, "person_id": pl.String, "household_id": pl.String, "uprn": pl.Int64},
        orient="row",
    )


def _carry(
    new: dict[str, tuple[list[str], int | None]], previous: dict[str, tuple[list[str], str | None, int | None]]
) -> CarriedIds:
    records, residents, households = _new_run(new)
    return carry_over_ids(records, residents, households, _previous(previous), AS_OF)


def _person(carried: CarriedIds, key: str) -> str:
    return carried.records.filter(pl.col("record_key") == key)["person_id"].item()


def _household(carried: CarriedIds, key: str) -> str:
    return carried.records.filter(pl.col("record_key") == key)["household_id"].item()


def _events(carried: CarriedIds) -> list[tuple[str, str, str]]:
    return [(kind, old, new) for kind, old, new in carried.events.iter_rows()]


def test_a_first_run_keeps_every_id() -> None:
    """It changes nothing without a previous run."""
    records, residents, households = _new_run({"P1": (["a:1", "b:1"], 10)})
    carried = carry_over_ids(records, residents, households, None, AS_OF)
    assert carried.records.equals(records)
    assert carried.residents.equals(residents)
    assert carried.households.equals(households)
    assert carried.events.is_empty()
    assert carried.events.schema == pl.Schema(IDENTITY_EVENTS_SCHEMA)


def test_the_same_people_at_the_same_address_keep_their_ids_whatever_linkage_called_them() -> None:
    """A person keeps its previous id when linkage names it differently (a new smallest record key)."""
    carried = _carry(
        {"Pnew": (["a:0", "a:1", "b:1"], 10), "Pkid": (["c:1"], 10)},
        {"Pold": (["a:1", "b:1"], "Hfamily", 10), "Pkid": (["c:1"], "Hfamily", 10)},
    )
    assert _person(carried, "a:0") == _person(carried, "a:1") == "Pold"
    assert _household(carried, "c:1") == "Hfamily"
    assert carried.households["household_id"].to_list() == ["Hfamily"]
    assert _events(carried) == []


def test_a_family_that_moves_keeps_its_household_id() -> None:
    """It carries the household id with the members, and records the move."""
    carried = _carry(
        {"P1": (["a:1"], 20), "P2": (["b:1"], 20)},
        {"P1": (["a:1"], "Hfamily", 10), "P2": (["b:1"], "Hfamily", 10)},
    )
    assert _household(carried, "a:1") == _household(carried, "b:1") == "Hfamily"
    assert carried.households.select("household_id", "uprn").rows() == [("Hfamily", 20)]
    assert _events(carried) == [("household_moved", "Hfamily", "Hfamily")]


def test_a_new_family_at_an_old_address_gets_a_new_id() -> None:
    """The address's old id stays with the family that left; the newcomers get an id never used before."""
    old_id = household_id_for(10)
    carried = _carry(
        {"P1": (["a:1"], 20), "P9": (["z:9"], 10)},
        {"P1": (["a:1"], old_id, 10)},
    )
    assert _household(carried, "a:1") == old_id
    newcomers = _household(carried, "z:9")
    assert newcomers != old_id
    assert newcomers.startswith("H")
    assert len(newcomers) == 13
    # a household with no previous members at a fresh address is named after its UPRN as usual
    fresh = _carry({"P1": (["a:1"], 10), "P9": (["z:9"], 30)}, {"P1": (["a:1"], old_id, 10)})
    assert _household(fresh, "z:9") == household_id_for(30)


def test_two_previous_persons_linked_into_one_are_a_person_merge() -> None:
    """The merged person keeps the id sharing most records; the merge is recorded."""
    carried = _carry(
        {"Pm": (["a:1", "a:2", "b:1"], 10)},
        {"Px": (["a:1", "a:2"], "H1", 10), "Py": (["b:1"], "H1", 10)},
    )
    assert _person(carried, "b:1") == "Px"
    assert ("person_merge", "Px;Py", "Px") in _events(carried)


def test_a_previous_person_split_in_two_is_a_person_split_without_reusing_an_id() -> None:
    """The larger part keeps the id; the other gets an id not used in the previous run."""
    carried = _carry(
        {"Pa": (["a:1"], 10), "Pb": (["b:1", "b:2"], 10)},
        {"Pa": (["a:1", "b:1", "b:2"], "H1", 10)},
    )
    assert _person(carried, "b:1") == "Pa"
    other = _person(carried, "a:1")
    assert other not in ("Pa", "Pb")
    assert other.startswith("P")
    assert _events(carried) == [("person_split", "Pa", ";".join(sorted(["Pa", other])))]


def test_a_household_split_keeps_the_id_with_the_larger_part_and_records_it() -> None:
    """Members of one previous household now living apart: the majority keeps the id."""
    carried = _carry(
        {"P1": (["a:1"], 10), "P2": (["b:1"], 10), "P3": (["c:1"], 20)},
        {"P1": (["a:1"], "Hfamily", 10), "P2": (["b:1"], "Hfamily", 10), "P3": (["c:1"], "Hfamily", 10)},
    )
    assert _household(carried, "a:1") == "Hfamily"
    other = _household(carried, "c:1")
    assert other == household_id_for(20)
    assert _events(carried) == [("household_split", "Hfamily", ";".join(sorted(["Hfamily", other])))]


def test_a_tie_goes_to_the_part_with_more_records_not_to_the_old_address() -> None:
    """One stale record left at the old address does not take the family's id."""
    carried = _carry(
        {"Pstale": (["x:1"], 10), "P1": (["a:1", "a:2", "a:3"], 20)},
        {"Pstale": (["x:1"], "Hfamily", 10), "P1": (["a:1", "a:2"], "Hfamily", 10)},
    )
    assert _household(carried, "a:1") == "Hfamily"
    assert _household(carried, "x:1") != "Hfamily"


def test_two_previous_households_living_together_are_a_household_merge() -> None:
    """A grandparent moving in with a family: the family's id, and a merge event."""
    carried = _carry(
        {"P1": (["a:1"], 10), "P2": (["b:1"], 10), "Pg": (["g:1"], 10)},
        {"P1": (["a:1"], "Hfamily", 10), "P2": (["b:1"], "Hfamily", 10), "Pg": (["g:1"], "Hgran", 30)},
    )
    assert _household(carried, "g:1") == "Hfamily"
    assert _events(carried) == [("household_merge", "Hfamily;Hgran", "Hfamily")]


def test_it_does_not_depend_on_row_order() -> None:
    """Shuffled inputs give the same ids and events."""
    new = {
        "Pa": (["a:1"], 10),
        "Pb": (["b:1"], 10),
        "Pc": (["c:1", "c:2"], 20),
        "Pd": (["d:1"], 20),
        "Pe": (["e:1"], None),
    }
    previous = {
        "Pa": (["a:1", "c:1"], "H1", 10),
        "Pb": (["b:1"], "H1", 10),
        "Pd": (["d:1", "c:2"], "H2", 20),
        "Pe": (["e:1"], "H2", 20),
    }
    records, residents, households = _new_run(new)
    first = carry_over_ids(records, residents, households, _previous(previous), AS_OF)
    for seed in range(5):
        again = carry_over_ids(
            records.sample(fraction=1.0, shuffle=True, seed=seed),
            residents.sample(fraction=1.0, shuffle=True, seed=seed),
            households.sample(fraction=1.0, shuffle=True, seed=seed),
            _previous(previous).sample(fraction=1.0, shuffle=True, seed=seed),
            AS_OF,
        )
        assert again.residents.equals(first.residents)
        assert again.households.equals(first.households)
        assert again.events.equals(first.events)
        assert again.records.sort("record_key").equals(first.records.sort("record_key"))
    ids = first.residents["person_id"].to_list()
    assert len(ids) == len(set(ids))
    assert first.households["household_id"].is_unique().all()


def _walk_every_pair(pairs: pl.DataFrame, order: list[str], descending: list[bool]) -> dict[str, str]:
    """The one-to-one mapping by walking every pair best first (what ``_greedy`` must give)."""
    taken_new: set[str] = set()
    taken_old: set[str] = set()
    chosen: dict[str, str] = {}
    for new, old in pairs.sort(order, descending=descending).select("new", "old").iter_rows():
        if new not in taken_new and old not in taken_old:
            taken_new.add(new)
            taken_old.add(old)
            chosen[new] = old
    return chosen


@pytest.mark.parametrize(
    ("n_new", "n_old", "n_pairs", "seed"),
    [(5, 5, 3, 1), (40, 40, 40, 2), (40, 10, 60, 3), (10, 40, 60, 4), (200, 200, 150, 5), (30, 30, 300, 6)],
)
def test_greedy_settles_lone_pairs_as_the_walk_does(n_new: int, n_old: int, n_pairs: int, seed: int) -> None:
    """Pairs whose ends are in no other pair are taken without the walk; the mapping is the full walk's,
    sparse (most pairs alone) or dense (most contested) alike.
    """
    rng = random.Random(seed)
    rows = {(f"N{rng.randrange(n_new)}", f"O{rng.randrange(n_old)}") for _ in range(n_pairs)}
    pairs = pl.DataFrame(
        [(new, old, rng.randrange(1, 4)) for new, old in sorted(rows)],
        schema={"new": pl.String, "old": pl.String, "shared": pl.Int64},
        orient="row",
    ).with_columns((pl.col("new").str.slice(1) == pl.col("old").str.slice(1)).alias("natural"))
    order, descending = ["shared", "natural", "new", "old"], [True, True, False, False]
    expected = _walk_every_pair(pairs, order, descending)
    for frame in (pairs, pairs.reverse()):
        chosen = _greedy(frame, order, descending)
        assert chosen.columns == ["new", "old"]
        assert dict(chosen.iter_rows()) == expected
        assert chosen.height == len(expected)


def test_events_are_made_for_contested_ids_only() -> None:
    """A merge and a split among pairs of lone ids: the events of every id in more than one pair."""
    pairs = pl.DataFrame({"new": ["a", "a", "b", "c", "d", "e"], "old": ["x", "y", "z", "w", "w", "v"]})
    mapping = pl.DataFrame({"new": list("abcde"), "final": ["A", "A2", "C", "D", "E"]})
    merges, splits = events_of(pairs, mapping, PERSON_MERGE, PERSON_SPLIT)
    assert merges.rows() == [(PERSON_MERGE, "x;y", "A")]
    assert splits.rows() == [(PERSON_SPLIT, "w", "C;D")]


def _reference_maps(
    records: pl.DataFrame, households: pl.DataFrame, previous: pl.DataFrame
) -> tuple[dict[str, str], dict[str, str]]:
    """What an id-by-id walk in Python gives (the rules of the module's docstring): every new person's final
    id, and every new household's id when no previous one is carried to it (its UPRN's, or its own without
    one, salted when the previous run used it).
    """
    new = records.select("record_key", pl.col("person_id").alias("new")).drop_nulls("new")
    old = previous.select("record_key", pl.col("person_id").alias("old")).drop_nulls("old")
    pairs = new.join(old, on="record_key").group_by("new", "old").agg(pl.len().alias("shared"))
    pairs = pairs.with_columns((pl.col("new") == pl.col("old")).alias("natural"))
    chosen = _walk_every_pair(pairs, ["shared", "natural", "new", "old"], [True, True, False, False])
    used = set(old["old"].to_list())
    persons = {
        pid: chosen[pid] if pid in chosen else _salted("P", pid, AS_OF) if pid in used else pid
        for pid in sorted(new["new"].unique().to_list())
    }
    used_households = set(previous["household_id"].drop_nulls().to_list())
    homes = {}
    for hid, uprn in households.select("household_id", "uprn").iter_rows():
        plain = household_id_for(uprn) if uprn is not None else hid
        homes[hid] = (
            plain if plain not in used_households else _salted("H", str(uprn if uprn is not None else hid), AS_OF)
        )
    return persons, homes


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_ids_not_carried_are_their_own_or_salted_as_a_walk_gives_them(seed: int) -> None:
    """Random months (persons and households re-formed, ids reused, new records): every person's final id is
    the one an id-by-id walk gives, and every household that carried no previous id gets its UPRN's id or a
    salted one, as the walk gives it.
    """
    rng = random.Random(seed)
    before = {
        f"P{p}": ([f"r{p}_{k}" for k in range(rng.randint(1, 3))], household_id_for(100 + p % 7), 100 + p % 7)
        for p in range(40)
    }
    keys = [key for keys, _, _ in before.values() for key in keys] + [f"n{k}" for k in range(15)]
    rng.shuffle(keys)
    now: dict[str, tuple[list[str], int | None]] = {}
    for key in keys:
        pid = f"P{rng.randrange(45)}"
        now.setdefault(pid, ([], rng.choice([None, *range(100, 110)])))[0].append(key)
    records, residents, households = _new_run(now)
    previous = _previous(before)
    carried = carry_over_ids(records, residents, households, previous, AS_OF)
    persons, homes = _reference_maps(records, households, previous)
    assert dict(zip(records["person_id"], carried.records["person_id"], strict=True)) == {
        pid: persons[pid] for pid in records["person_id"]
    }
    earlier = set(previous["household_id"].to_list())
    finals = dict(zip(records["household_id"], carried.records["household_id"], strict=True))
    fresh = {hid: final for hid, final in finals.items() if hid is not None and final not in earlier}
    assert fresh
    assert fresh == {hid: homes[hid] for hid in fresh}
