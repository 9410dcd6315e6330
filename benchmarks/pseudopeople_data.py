"""pseudopeople (IHME's simulated US population) as a linkage benchmark dataset.

pseudopeople ships a sample of about 10,000 simulated people in households and
generates from it, offline, the records of several US data sources with its own noise
model (typos, OCR and phonetic errors, nicknames, fake names, blanks, swapped day and
month, wrong digits, values copied from a household member, ...). Nobody on this
project wrote it, which is why it is here.

Three of its datasets share people, and together carry every field tfident links on:

- ``decennial_census`` (the 2020 census, ~10,200 records): first name, middle initial,
  last name, date of birth (MM/DD/YYYY), sex, street address, city, zip; household id;
- ``taxes_w2_and_1099`` (2020 W2 and 1099 forms, ~9,900 records, several per person
  with several employers): first name, middle initial, last name, SSN, mailing address,
  zip; household id; no date of birth or sex;
- ``social_security`` (SSA creation and death events, ~16,500 records of ~16,300
  people, most of them not in the other two): first name, middle name, last name, SSN,
  date of birth (YYYYMMDD), sex; no address.

Mapped onto tfident's canonical person columns (``forename``, ``middle_names``,
``surname``, ``date_of_birth``, ``sex``, ``address_line_1``, ``town``, ``postcode`` =
zip) as three person sources (census -> ``school_census``, taxes -> ``benefits``,
social security -> ``health``; the names only label the sources). The SSN cannot pass
tfident's NINO validation, so the tfident peer puts it in the ``nino`` slot after
standardising (an identifier compared by the model and, by default, a
conflicting-identifier guard), as FEBRL's ``soc_sec_id`` goes into ``pnc_id``.

In the shipped sample every zip is ``00000`` and every city ``Anytown`` (the sample is
anonymised), so the postcode carries almost no evidence (only its noise differs), and
tfident, with no gazetteer to resolve a street address to a UPRN, has no address
evidence at all. The peers are given the same fields.

Truth: ``simulant_id`` (the person), ``household_id`` (census and taxes only).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import polars as pl

DATASETS: dict[str, str] = {
    "decennial_census": "school_census",
    "taxes_w2_and_1099": "benefits",
    "social_security": "health",
}
"""pseudopeople dataset -> the tfident person source it goes in as."""

NOISE_LEVELS: dict[str, float] = {"default": 1.0, "high": 5.0}
"""Noise level name -> factor on every column noise ``cell_probability`` of pseudopeople's
default configuration (``get_config()``), capped at :data:`MAX_CELL_PROBABILITY`."""

MAX_CELL_PROBABILITY = 0.5
SEED = 0


def noise_config(factor: float) -> dict[str, Any] | None:
    """Pseudopeople's configuration with every column noise probability scaled by ``factor``
    (row noise, such as non-response and duplicates, unchanged); ``None`` for the default.
    """
    if factor == 1.0:
        return None
    import pseudopeople as psp

    base = psp.get_config()
    config: dict[str, Any] = {}
    for dataset in DATASETS:
        columns = copy.deepcopy(base[dataset]["column_noise"])
        for noises in columns.values():
            for params in noises.values():
                if "cell_probability" in params:
                    params["cell_probability"] = min(MAX_CELL_PROBABILITY, params["cell_probability"] * factor)
        config[dataset] = {"column_noise": columns}
    return config


def generate(noise: str = "default", seed: int = SEED) -> dict[str, Any]:
    """The three datasets from pseudopeople's shipped sample, as pandas frames (nothing downloaded)."""
    import pseudopeople as psp

    config = noise_config(NOISE_LEVELS[noise])
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dataset in DATASETS:
            out[dataset] = getattr(psp, f"generate_{dataset}")(seed=seed, config=config, verbose=False)
    return out


def _text(frame: pl.DataFrame, name: str) -> pl.Expr:
    if name not in frame.columns:
        return pl.lit(None, dtype=pl.String)
    return pl.col(name).cast(pl.String).str.strip_chars().replace("", None)


def _address(frame: pl.DataFrame, prefix: str) -> pl.Expr:
    parts = [_text(frame, prefix + p) for p in ("street_number", "street_name", "unit_number")]
    street = pl.concat_str(parts, separator=" ", ignore_nulls=True).replace("", None)
    po_box = _text(frame, prefix + "po_box")
    return pl.coalesce(street, pl.lit("PO BOX ") + po_box)


def _dob(frame: pl.DataFrame, dataset: str) -> pl.Expr:
    if "date_of_birth" not in frame.columns:
        return pl.lit(None, dtype=pl.Date)
    fmt = "%Y%m%d" if dataset == "social_security" else "%m/%d/%Y"
    return _text(frame, "date_of_birth").str.strptime(pl.Date, fmt, strict=False)


def _sex(frame: pl.DataFrame) -> pl.Expr:
    if "sex" not in frame.columns:
        return pl.lit(None, dtype=pl.String)
    return _text(frame, "sex").str.slice(0, 1).str.to_uppercase().replace({"": None})


def common_frame(dataset: str, raw: Any) -> pl.DataFrame:
    """One pseudopeople dataset in common columns (before the split into tfident's and the peers' inputs)."""
    frame = pl.from_pandas(raw.reset_index(drop=True).astype(object).where(raw.notna(), None).astype(str))
    frame = frame.with_columns(pl.all().replace({"None": None, "nan": None, "<NA>": None}))
    source = DATASETS[dataset]
    mailing = "mailing_address_" if dataset.startswith("taxes") else ""
    middle = "middle_name" if "middle_name" in frame.columns else "middle_initial"
    return frame.with_row_index("_row").select(
        (pl.lit(source + ":") + pl.col("_row").cast(pl.String)).alias("record_key"),
        pl.lit(source).alias("source"),
        pl.col("_row").cast(pl.String).alias("record_id"),
        _text(frame, "first_name").alias("forename"),
        _text(frame, middle).alias("middle_names"),
        _text(frame, "last_name").alias("surname"),
        _dob(frame, dataset).alias("date_of_birth"),
        _sex(frame).alias("sex"),
        _address(frame, mailing).alias("address_line_1"),
        _text(frame, mailing + "city").alias("town"),
        _text(frame, mailing + "zipcode").alias("postcode"),
        # separators out, every other character kept: an OCR error's "832-76-|538" is one
        # character wrong in nine ("83276|538"), not eight digits (stripping every non-digit
        # turned a substitution into a deletion, which the keying-error tolerance does not see)
        _text(frame, "ssn").str.replace_all(r"[-\s]", "").replace("", None).alias("ssn"),
        _text(frame, "simulant_id").alias("entity"),
        _text(frame, "household_id").alias("household"),
    )


def build(raw: dict[str, Any], people: int | None = None) -> dict[str, pl.DataFrame]:
    """Tfident's extracts, its identifiers, the peers' table and the truth from :func:`generate`'s frames.

    ``people``: keep only the records of the first ``people`` simulants of the census (a
    slice for tests). Returns ``{"extracts": {source: frame}, "identifiers": record_key,
    nino (the SSN); "peers": the peers' columns; "truth": record_key, side, entity,
    household}``.
    """
    frames = [common_frame(d, raw[d]) for d in DATASETS]
    if people:
        keep = frames[0]["entity"].unique(maintain_order=True).head(people).implode()
        frames = [f.filter(pl.col("entity").is_in(keep)) for f in frames]
    extracts = {
        f["source"][0]: f.select(
            "record_id",
            "forename",
            "middle_names",
            "surname",
            "date_of_birth",
            "sex",
            "address_line_1",
            "town",
            "postcode",
        )
        for f in frames
        if f.height
    }
    both = pl.concat(frames)
    identifiers = both.select("record_key", pl.col("ssn").alias("nino"))
    upper = [
        pl.col(c).str.to_uppercase().str.replace_all(r"\s+", " ").str.strip_chars() for c in ("forename", "surname")
    ]
    peers = both.select(
        pl.col("record_key").alias("unique_id"),
        pl.col("source").alias("source_dataset"),
        upper[0].str.split(" ").list.first().alias("forename"),
        upper[1].alias("surname"),
        pl.col("date_of_birth").dt.to_string("%Y-%m-%d").alias("dob"),
        pl.col("postcode").str.strip_chars().alias("postcode"),
        pl.concat_str(["address_line_1", "town"], separator=" ", ignore_nulls=True)
        .str.to_uppercase()
        .replace("", None)
        .alias("address"),
        "sex",
        "ssn",
    )
    truth = both.select("record_key", pl.col("source").alias("side"), "entity", "household")
    return {"extracts": extracts, "identifiers": identifiers, "peers": peers, "truth": truth}
