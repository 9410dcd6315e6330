"""Training without labels: EM (m) and random sampling (u) recover parameters known by construction.

Profiles are simulated from known probabilities: each of ``ENTITIES`` people has two
records; the second keeps each field with probability ``KEEP[field]``, else draws it
afresh from the same pool. So for a true pair the exact-match level has
``m = keep + (1 - keep) / pool`` and for two different people ``u = 1 / pool`` (pools
are uniform; random sampling also meets the true pairs, at the prior's rate).
``tfident.link.training.train`` (the same code ``tfident train`` runs) must
recover them within sampling tolerance.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from typing import Any

import polars as pl
import pytest

from tfident.link import LinkageConfig
from tfident.link.training import MIN_U_SHARE, _u_without_matches, train

ENTITIES = 3000
POOLS = {"forename": 60, "surname": 200, "uprn": 1000, "sex": 2}
KEEP = {"forename": 0.85, "surname": 0.9, "dob": 0.95, "uprn": 0.7, "sex": 0.98}
DAYS = 7300


def _pool(rng: random.Random, size: int, length: int) -> list[str]:
    names: set[str] = set()
    while len(names) < size:
        names.add("".join(rng.choice(string.ascii_uppercase) for _ in range(length)))
    return sorted(names)


def _simulate(seed: int = 5) -> pl.DataFrame:
    rng = random.Random(seed)
    forenames = _pool(rng, POOLS["forename"], 7)
    surnames = _pool(rng, POOLS["surname"], 8)
    start = dt.date(2000, 1, 1)

    def draw(field: str) -> Any:
        if field == "forename":
            return rng.choice(forenames)
        if field == "surname":
            return rng.choice(surnames)
        if field == "dob":
            return start + dt.timedelta(days=rng.randrange(DAYS))
        if field == "uprn":
            return rng.randrange(POOLS["uprn"])
        return rng.choice("MF")

    rows = []
    for entity in range(ENTITIES):
        first = {field: draw(field) for field in KEEP}
        second = {field: first[field] if rng.random() < KEEP[field] else draw(field) for field in KEEP}
        # half the people carry an identifier in both records, as UPNs do; EM blocks on it
        upn = f"U{entity:06d}" if entity % 2 == 0 else None
        rows += [{**first, "upn": upn}, {**second, "upn": upn}]
    frame = pl.DataFrame(rows, schema_overrides={"dob": pl.Date, "uprn": pl.Int64})
    dob = pl.col("dob")
    return frame.with_row_index("pid").select(
        pl.col("pid").cast(pl.Int64),
        pl.col("forename").alias("forename_first"),
        pl.col("forename").alias("forename_canonical"),
        pl.concat_list("forename").alias("forename_variant"),
        pl.col("surname").alias("surname_std"),
        pl.concat_list("surname").alias("surname_tokens"),
        pl.col("surname").alias("surname_metaphone"),
        dob.alias("date_of_birth"),
        pl.when((dob.dt.day() <= 12) & (dob.dt.day() != dob.dt.month()))
        .then(pl.date(dob.dt.year(), dob.dt.day(), dob.dt.month()))
        .otherwise(None)
        .alias("dob_transposed"),
        "sex",
        pl.col("uprn").alias("uprn_matched"),
        pl.lit(None, dtype=pl.String).alias("postcode_std"),
        "upn",
        *(pl.lit(None, dtype=pl.String).alias(c) for c in ("nino", "nhs_number", "pnc_id")),
    )


@pytest.fixture(scope="module")
def trained(linkage: LinkageConfig) -> dict[str, tuple[float, float]]:
    """(m, u) of each comparison's top (exact) level after training on the simulated profiles."""
    config = linkage.model_copy(update={"em_max_pairs": 1_000_000, "seed": 3})
    settings = train(_simulate(), {}, config)
    out = {}
    for comparison in settings["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        out[comparison["output_column_name"]] = (float(levels[0]["m_probability"]), float(levels[0]["u_probability"]))
    return out


@pytest.mark.parametrize(
    ("comparison", "field"),
    [("forename", "forename"), ("surname", "surname"), ("dob", "dob"), ("address", "uprn"), ("sex", "sex")],
)
def test_em_recovers_m_and_sampling_recovers_u(
    trained: dict[str, tuple[float, float]], comparison: str, field: str
) -> None:
    m, u = trained[comparison]
    pool = POOLS.get(field, DAYS)
    true_m = KEEP[field] + (1 - KEEP[field]) / pool
    # random sampling draws true pairs too, at the prior's rate: visible only for rare values (dob)
    prior = 1 / (2 * ENTITIES - 1)
    true_u = (1 - prior) / pool + prior * true_m
    assert m == pytest.approx(true_m, abs=0.03), (comparison, m, true_m)
    assert u == pytest.approx(true_u, rel=0.25), (comparison, u, true_u)


def test_prior_is_of_the_right_order(linkage: LinkageConfig) -> None:
    # ENTITIES true pairs among 2 * ENTITIES records: prior = ENTITIES / C(2N, 2)
    config = linkage.model_copy(update={"em_max_pairs": 1_000_000, "seed": 3})
    settings = train(_simulate(seed=6), {}, config)
    true_prior = ENTITIES / (2 * ENTITIES * (2 * ENTITIES - 1) / 2)
    assert settings["probability_two_random_records_match"] == pytest.approx(true_prior, rel=0.35)


def test_a_level_never_weighs_less_than_disagreement() -> None:
    # EM drives m towards 0 for an error the training data never makes (FEBRL never
    # transposes day and month); the level must not become a veto on data that does
    from tfident.link.training import _floor_at_else

    levels: list[dict[str, Any]] = [
        {"sql_condition": "a IS NULL", "is_null_level": True},
        {"sql_condition": "a_l = a_r", "m_probability": 0.9, "u_probability": 0.001},
        {"sql_condition": "t_l = a_r", "m_probability": 1e-12, "u_probability": 1e-5},
        {"sql_condition": "x", "m_probability": 1e-6, "u_probability": 1e-6, "fix_m_probability": True},
        {"sql_condition": "ELSE", "m_probability": 0.1, "u_probability": 0.8},
    ]
    _floor_at_else(levels)
    assert levels[1]["m_probability"] == 0.9  # above the else level: untouched
    assert levels[2]["m_probability"] / levels[2]["u_probability"] == pytest.approx(0.1 / 0.8)
    assert levels[3]["m_probability"] == 1e-6  # fixed levels keep their values


def test_no_else_level_weighs_less_than_the_floor() -> None:
    # EM on data with no wrong sex among its matches gave a disagreeing sex -33 bits: a veto
    import math

    from tfident.link.training import MIN_LEVEL_WEIGHT, _floor_at_else

    sex: list[dict[str, Any]] = [
        {"sql_condition": "sex IS NULL", "is_null_level": True},
        {"sql_condition": "sex_l = sex_r", "m_probability": 0.99, "u_probability": 0.5},
        {"sql_condition": "ELSE", "m_probability": 5e-11, "u_probability": 0.5},
    ]
    _floor_at_else(sex)
    assert math.log2(sex[2]["m_probability"] / sex[2]["u_probability"]) == pytest.approx(MIN_LEVEL_WEIGHT)
    kept: list[dict[str, Any]] = [
        {"sql_condition": "a_l = a_r", "m_probability": 0.9, "u_probability": 0.001},
        {"sql_condition": "ELSE", "m_probability": 0.01, "u_probability": 0.9},  # -6.5 bits: above the floor
    ]
    _floor_at_else(kept)
    assert kept[1]["m_probability"] == 0.01


def test_a_swap_is_weighed_once(trained: dict[str, tuple[float, float]], linkage: LinkageConfig) -> None:
    # forename and surname swapped is one agreement of both names: the surname comparison's
    # swap level is fixed at weight 0 (counted in both, a swap alone outweighed a different
    # date of birth, postcode and identifier on FEBRL4)
    model = linkage.model_data
    assert model is not None
    surname = next(c for c in model["settings"]["comparisons"] if c["output_column_name"] == "surname")
    swap = next(level for level in surname["comparison_levels"] if "swapped" in level.get("label_for_charts", ""))
    assert swap["m_probability"] == swap["u_probability"]
    assert swap["fix_m_probability"]
    assert swap["fix_u_probability"]


def test_an_identifiers_u_leaves_out_the_matches_random_sampling_meets() -> None:
    def comparison(name: str, m: float, u: float) -> dict[str, Any]:
        return {
            "output_column_name": name,
            "comparison_levels": [
                {"sql_condition": f'"{name}_l" IS NULL', "is_null_level": True},
                {"sql_condition": f'"{name}_l" = "{name}_r"', "m_probability": m, "u_probability": u},
                {"sql_condition": "ELSE", "m_probability": 1 - m, "u_probability": 1 - u},
            ],
        }

    prior = 4e-5
    # an SSN: random pairs agree at 4.4e-5, of which 4e-5 * 0.9 are one person
    comparisons = [comparison("nino", 0.9, 4.4e-5), comparison("dob", 0.7, 1e-4), comparison("upn", 0.9, 3.7e-5)]
    _u_without_matches(comparisons, prior)
    nino, dob, upn = (c["comparison_levels"] for c in comparisons)
    assert nino[1]["u_probability"] == pytest.approx((4.4e-5 - prior * 0.9) / (1 - prior))
    assert nino[2]["u_probability"] == 1 - 4.4e-5  # the else level is left alone
    assert dob[1]["u_probability"] == 1e-4  # not an identifier
    # nearly every agreement a match: no lower than a tenth of the rate the sample measured
    assert upn[1]["u_probability"] == pytest.approx(3.7e-5 * MIN_U_SHARE)
