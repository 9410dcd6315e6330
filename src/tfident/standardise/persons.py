"""One frame of every person record of every source, with standardised names and addresses."""

from __future__ import annotations

from datetime import date

import polars as pl

from tfident.ingest.identifiers import IDENTIFIER_EXPRS, postcode_expr, postcode_outward_expr, uprn_expr
from tfident.ingest.sources import PERSON_SOURCES, SOURCES
from tfident.standardise import names as nm
from tfident.standardise.addresses import parse_addresses

RAW_COLUMNS: tuple[str, ...] = (
    "record_key",
    "source",
    "record_id",
    "forename",
    "middle_names",
    "surname",
    "date_of_birth",
    "sex",
    "address",
    "postcode",
    "uprn",
    "upn",
    "nino",
    "pnc_id",
    "nhs_number",
    "evidence_date",
)
STD_COLUMNS: tuple[str, ...] = (
    "forename_std",
    "forename_canonical",
    "surname_std",
    "surname_tokens",
    "forename_metaphone",
    "surname_metaphone",
    "postcode_std",
    "postcode_outward",
    "address_std",
)
PERSONS_COLUMNS: tuple[str, ...] = RAW_COLUMNS + STD_COLUMNS
"""The columns of ``standardise_persons``' output, in order (``match_addresses`` adds three)."""
PERSONS_SCHEMA: dict[str, pl.DataType] = {
    **{c: pl.String() for c in PERSONS_COLUMNS},
    "date_of_birth": pl.Date(),
    "evidence_date": pl.Date(),
    "uprn": pl.Int64(),
    "surname_tokens": pl.List(pl.String),
}
"""The columns of ``standardise_persons``' output with their types, in order."""

_TEXT = ("record_id", "forename", "middle_names", "surname", "sex", "postcode")
_IDS = ("upn", "nino", "pnc_id", "nhs_number")


def _col(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` cast to ``dtype``, or a typed null when the frame lacks it."""
    if name in frame.columns:
        return pl.col(name).cast(dtype, strict=False)
    return pl.lit(None, dtype=dtype)


def evidence_date_expr(source: str, frame: pl.DataFrame, as_of: date) -> pl.Expr:
    """The date a record of ``source`` shows its person at its address, capped at ``as_of``.

    The source's ``evidence_date`` (``tfident/ingest/sources.yaml``) says which: the first
    of its date columns that is not blank (school census: census date; youth offending:
    outcome date, else offence date ...), or for a record open until an end date (a
    benefit claim, a social care episode) that end date when it is on or before
    ``as_of``, else ``as_of`` (a live claim is evidence of residence now). Null for a
    source with no evidence date.
    """
    d = pl.lit(as_of, dtype=pl.Date)

    def c(name: str) -> pl.Expr:
        return _col(frame, name, pl.Date())

    spec = SOURCES[source].evidence_date if source in SOURCES else None
    if spec is None:
        value = pl.lit(None, dtype=pl.Date)
    elif spec.open_until is not None:
        end = c(spec.open_until)
        value = pl.when(end.is_not_null() & (end <= d)).then(end).otherwise(d)
    elif len(spec.first_of) == 1:
        value = c(spec.first_of[0])
    else:
        value = pl.coalesce([c(name) for name in spec.first_of])
    return pl.min_horizontal(value, d)


def _source_frame(source: str, frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The raw person columns of one source."""
    text = {name: _col(frame, name, pl.String()) for name in _TEXT}
    lines = [_col(frame, c, pl.String()) for c in ("address_line_1", "address_line_2", "address_line_3", "town")]
    ids = {name: IDENTIFIER_EXPRS[name](_col(frame, name, pl.String())) for name in _IDS}
    uprn = (
        pl.col("uprn").cast(pl.Int64, strict=False)
        if "uprn" in frame.columns and frame.schema["uprn"].is_integer()
        else uprn_expr(_col(frame, "uprn", pl.String()))
    )
    return frame.select(
        (pl.lit(source + ":") + text["record_id"]).alias("record_key"),
        pl.lit(source).alias("source"),
        text["record_id"].alias("record_id"),
        text["forename"].alias("forename"),
        text["middle_names"].alias("middle_names"),
        text["surname"].alias("surname"),
        _col(frame, "date_of_birth", pl.Date()).alias("date_of_birth"),
        text["sex"].str.strip_chars().str.to_uppercase().alias("sex"),
        pl.concat_str([s.str.strip_chars().replace("", None) for s in lines], separator=", ", ignore_nulls=True)
        .replace("", None)
        .alias("address"),
        text["postcode"].alias("postcode"),
        uprn.cast(pl.Int64).alias("uprn"),
        *(ids[name].alias(name) for name in _IDS),
        evidence_date_expr(source, frame, as_of).alias("evidence_date"),
    )


def _name_table(values: pl.Series, kind: str) -> pl.DataFrame:
    """Standardised forms of the distinct values of a name column."""
    distinct = values.drop_nulls().unique().sort().to_list()
    if kind == "forename":
        firsts = [nm.forename_first(v) for v in distinct]
        return pl.DataFrame(
            {
                "forename": distinct,
                "forename_std": [nm.forename_std(v) for v in distinct],
                "forename_canonical": [None if f is None else nm.canonical_forename(f) for f in firsts],
                "forename_metaphone": [None if f is None else nm.metaphone(f) for f in firsts],
            },
            schema={c: pl.String for c in ("forename", "forename_std", "forename_canonical", "forename_metaphone")},
        )
    stds = [nm.surname_std(v) for v in distinct]
    return pl.DataFrame(
        {
            "surname": distinct,
            "surname_std": stds,
            "surname_tokens": [nm.surname_tokens(v) for v in distinct],
            "surname_metaphone": [None if s is None else nm.metaphone(s) for s in stds],
        },
        schema={
            "surname": pl.String,
            "surname_std": pl.String,
            "surname_tokens": pl.List(pl.String),
            "surname_metaphone": pl.String,
        },
    )


def empty_persons() -> pl.DataFrame:
    """A persons frame with no rows and the right types."""
    return pl.DataFrame(schema=PERSONS_SCHEMA)


def standardise_persons(extracts: dict[str, pl.DataFrame], as_of: date) -> pl.DataFrame:
    """One row per person record of every person source present, with standardised columns.

    Records are in source order (the order of ``tfident.ingest.sources.SOURCES``), then
    in the order of each extract.
    """
    frames = [_source_frame(s, extracts[s], as_of) for s in PERSON_SOURCES if s in extracts]
    if not frames:
        return empty_persons()
    return add_standard_columns(pl.concat(frames, how="vertical"))


def add_standard_columns(raw: pl.DataFrame) -> pl.DataFrame:
    """The standardised columns (``STD_COLUMNS``) added to a frame of ``RAW_COLUMNS``, rows kept in order.

    ``standardise_persons`` uses it on the extracts; ``tfident explain`` on a stored
    run's source records, so both see the same standardised values.
    """
    forenames = _name_table(raw["forename"], "forename")
    surnames = _name_table(raw["surname"], "surname")
    addresses = (
        raw.select("address")
        .unique()
        .filter(pl.col("address").is_not_null())
        .pipe(parse_addresses)
        .select("address", "address_std")
    )
    out = (
        raw.with_row_index("_row")
        .join(forenames, on="forename", how="left")
        .join(surnames, on="surname", how="left")
        .join(addresses, on="address", how="left")
        .with_columns(
            pl.col("surname_tokens").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            postcode_expr(pl.col("postcode")).alias("postcode_std"),
            postcode_outward_expr(pl.col("postcode")).alias("postcode_outward"),
        )
        .sort("_row")
    )
    return out.select(PERSONS_COLUMNS)
