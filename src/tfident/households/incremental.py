"""Incremental households: reuse the previous run's parses of address texts and its gazetteer index.

The households stage parses address texts three times (``tfident.standardise.addresses.parse_addresses``):
the gazetteer's, those of the records with no UPRN, and those of the records at one flat of a block.
A parse is a function of the text alone (every expression of ``parse_addresses`` reads one value of
one row), and of the code, so a text the previous published run parsed, under the same code
(:func:`households_fingerprint`: tfident's and polars' versions and the source of the households and
standardise modules), takes that run's parse; only the others are parsed. Everything that reads more
than one text (the gazetteer index, the postcode, flat and town completions, the addresses at D, the
moved-alone rule, the households) is computed afresh every month, so the result is the same as a full
run's, with one exception that is exact too: the gazetteer index (its outward codes, town words, how many
UPRNs each house number and street has, the buildings of flats, the UPRNs of an address it holds twice) is
a function of the gazetteer's UPRNs,
address texts and outward codes alone (:data:`GAZETTEER_INPUT_SCHEMA`), and is reused when those are
exactly (``DataFrame.equals``, value by value, in order) the previous run's.

The cache is a frame of address texts and their parts, and the gazetteer input and its index (it holds
personal data: it is kept with the link cache, ``tfident.checkpoints.save_run_cache``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tfident import __version__
from tfident.standardise.addresses import parse_addresses

log = logging.getLogger(__name__)

PARSED_COLUMNS: tuple[str, ...] = ("address_clean", "flat", "number", "street", "place", "address_std")
"""The columns ``parse_addresses`` adds, in its order."""

PARSES_SCHEMA: dict[str, pl.DataType] = {"address": pl.String(), **{c: pl.String() for c in PARSED_COLUMNS}}
"""One row per distinct address text (null included) and its parse."""


GAZETTEER_INPUT_SCHEMA: dict[str, pl.DataType] = {"uprn": pl.Int64(), "address": pl.String(), "outward": pl.String()}
"""What the gazetteer index is made from (``tfident.households._gazetteer_input``)."""

GazetteerIndex = tuple[
    set[str], set[str], dict[tuple[str, str, str], int], dict[int, str], dict[int, str], dict[int, str]
]
"""The gazetteer's outward codes, town words, UPRNs per (outward code or ``""``, number, street), building
of each UPRN of a block, text key (``A:<outward>|<address_std>``) of each UPRN whose address another
UPRN has too, and the parts (``<outward>|<flat>|<number>|<street>``) of each UPRN's address
(``tfident.households._gazetteer_index``)."""

INDEX_SCHEMA: dict[str, pl.DataType] = {
    "part": pl.String(),
    "uprn": pl.Int64(),
    "address": pl.String(),
    "outward": pl.String(),
    "place": pl.String(),
    "number": pl.String(),
    "street": pl.String(),
    "n": pl.Int64(),
    "building": pl.String(),
    "key": pl.String(),
}
"""The gazetteer input and its index in one frame, by ``part``: ``gazetteer`` (``uprn, address, outward``,
the input's rows in order), ``outward`` (an outward code), ``place`` (a town word), ``count`` (``outward,
number, street, n``), ``building`` (``uprn, building``) and ``duplicate`` (``uprn, key``)."""


def index_frame(gazetteer: pl.DataFrame, index: GazetteerIndex) -> pl.DataFrame:
    """The gazetteer input and its index as one frame (:data:`INDEX_SCHEMA`)."""
    outwards, places, counts, buildings, duplicates, address_parts = index
    keys = list(counts)
    parts = [
        gazetteer.select(pl.lit("gazetteer").alias("part"), "uprn", "address", "outward"),
        pl.DataFrame({"part": "outward", "outward": sorted(outwards)}),
        pl.DataFrame({"part": "place", "place": sorted(places)}),
        pl.DataFrame(
            {
                "part": "count",
                "outward": [k[0] for k in keys],
                "number": [k[1] for k in keys],
                "street": [k[2] for k in keys],
                "n": list(counts.values()),
            }
        ),
        pl.DataFrame({"part": "building", "uprn": list(buildings), "building": list(buildings.values())}),
        pl.DataFrame({"part": "duplicate", "uprn": list(duplicates), "key": list(duplicates.values())}),
        pl.DataFrame({"part": "parts", "uprn": list(address_parts), "key": list(address_parts.values())}),
    ]
    return pl.concat(
        [
            part.select(
                (pl.col(c) if c in part.columns else pl.lit(None)).cast(t).alias(c) for c, t in INDEX_SCHEMA.items()
            )
            for part in parts
        ]
    )


def index_input(frame: pl.DataFrame) -> pl.DataFrame:
    """The gazetteer input an index frame (:func:`index_frame`) was made from."""
    return frame.filter(pl.col("part") == "gazetteer").select(list(GAZETTEER_INPUT_SCHEMA))


def index_from_frame(frame: pl.DataFrame) -> GazetteerIndex:
    """The index :func:`index_frame` wrote."""
    part = pl.col("part")
    counts = frame.filter(part == "count")
    buildings = frame.filter(part == "building")
    duplicates = frame.filter(part == "duplicate")
    address_parts = frame.filter(part == "parts")
    return (
        set(frame.filter(part == "outward")["outward"].to_list()),
        set(frame.filter(part == "place")["place"].to_list()),
        dict(
            zip(
                zip(counts["outward"].to_list(), counts["number"].to_list(), counts["street"].to_list(), strict=True),
                counts["n"].to_list(),
                strict=True,
            )
        ),
        dict(zip(buildings["uprn"].to_list(), buildings["building"].to_list(), strict=True)),
        dict(zip(duplicates["uprn"].to_list(), duplicates["key"].to_list(), strict=True)),
        dict(zip(address_parts["uprn"].to_list(), address_parts["key"].to_list(), strict=True)),
    )


def households_fingerprint() -> str:
    """What a parse depends on besides its text: the code (tfident's and polars' versions and the
    source of every module of ``tfident.households`` and ``tfident.standardise``), so a changed rule
    is never answered from an older run's parses.
    """
    digest = hashlib.sha256()
    digest.update(f"tfident {__version__}; polars {pl.__version__}\n".encode())
    here = Path(__file__).parent
    for folder in (here, here.parent / "standardise"):
        for module in sorted(folder.glob("*.py")):
            digest.update(f"{folder.name}/{module.name}".encode())
            digest.update(hashlib.sha256(module.read_bytes()).digest())
    return digest.hexdigest()


@dataclass
class AddressParses:
    """``parse_addresses`` once per distinct text, taking the parses of ``known`` (the previous
    run's, :class:`HouseholdsCache`) for the texts it holds; :meth:`table` is every text parsed or
    reused here, the next run's cache.
    """

    known: pl.DataFrame | None = None
    known_index: pl.DataFrame | None = None
    """The previous run's gazetteer input and index (:func:`index_frame`)."""
    reused: int = 0
    parsed: int = 0
    index_reused: bool = False
    index: pl.DataFrame | None = None
    """This run's gazetteer input and index (:func:`index_frame`), once made or reused."""
    _used: list[pl.DataFrame] = field(default_factory=list)

    def gazetteer_index(
        self, gazetteer: pl.DataFrame, make: Callable[[pl.DataFrame], GazetteerIndex]
    ) -> GazetteerIndex:
        """The index of ``gazetteer`` (the input, :data:`GAZETTEER_INPUT_SCHEMA`): the previous run's when
        its input was exactly this one (same rows, same values, same order), else ``make(gazetteer)``.
        """
        known = self.known_index
        if known is not None and index_input(known).equals(gazetteer.select(list(GAZETTEER_INPUT_SCHEMA))):
            self.index_reused = True
            self.index = known
            return index_from_frame(known)
        index = make(gazetteer)
        self.index = index_frame(gazetteer, index)
        return index

    def parse(self, frame: pl.DataFrame, column: str = "address") -> pl.DataFrame:
        """``parse_addresses(frame, column)``: the same frame, the same columns in the same order."""
        clash = [c for c in PARSED_COLUMNS if c in frame.columns and c != column]
        if clash:  # parse_addresses would overwrite them in place: keep its exact result
            return parse_addresses(frame, column)
        texts = frame.select(pl.col(column).alias("address")).unique()
        if self.known is None:
            hit = pl.DataFrame(schema=PARSES_SCHEMA)
            todo = texts
        else:
            hit = texts.join(self.known, on="address", how="inner", nulls_equal=True)
            todo = texts.join(self.known, on="address", how="anti", nulls_equal=True)
        fresh = parse_addresses(todo).select(list(PARSES_SCHEMA))
        table = pl.concat([hit.select(list(PARSES_SCHEMA)), fresh.cast(pl.Schema(PARSES_SCHEMA))])
        self.reused += hit.height
        self.parsed += fresh.height
        self._used.append(table)
        return frame.join(
            table.rename({"address": column}) if column != "address" else table,
            on=column,
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )

    def log_reuse(self) -> None:
        """Log how many distinct texts were reused (counts only)."""
        log.info(
            "incremental households: %d of %d address parses reused; gazetteer index %s",
            self.reused,
            self.reused + self.parsed,
            "reused" if self.index_reused else "made",
        )

    def table(self) -> pl.DataFrame:
        """Every text parsed or reused by this object, once each."""
        if not self._used:
            return pl.DataFrame(schema=PARSES_SCHEMA)
        return pl.concat(self._used).unique("address", keep="first", maintain_order=True)


@dataclass(frozen=True)
class HouseholdsCache:
    """The previous published run's parses of address texts and gazetteer index, and the fingerprint of the
    code they were made by.
    """

    fingerprint: str
    parses: pl.DataFrame
    """:data:`PARSES_SCHEMA`, one row per distinct text."""
    index: pl.DataFrame | None = None
    """:data:`INDEX_SCHEMA` (:func:`index_frame`); None when the run had no gazetteer."""

    def frames(self) -> dict[str, pl.DataFrame]:
        """The frames kept in the run cache (``tfident.checkpoints.save_run_cache``)."""
        key = {"households_key": pl.DataFrame({"fingerprint": [self.fingerprint]})}
        index = {} if self.index is None else {"household_index": self.index}
        return {"household_parses": self.parses, **index, **key}

    @staticmethod
    def from_frames(frames: dict[str, pl.DataFrame]) -> HouseholdsCache | None:
        """The cache from the run cache's frames; None when they hold none (an older run's cache)."""
        parses, key = frames.get("household_parses"), frames.get("households_key")
        if parses is None or key is None or key.height != 1:
            return None
        return HouseholdsCache(str(key["fingerprint"][0]), parses, frames.get("household_index"))

    def parser(self) -> AddressParses:
        """An :class:`AddressParses` that reuses these parses and index when they were made by this code (else
        none).
        """
        if self.fingerprint != households_fingerprint():
            log.info("households cache: made by other code (a changed rule); nothing reused")
            return AddressParses()
        usable = self.parses.schema == pl.Schema(PARSES_SCHEMA) and self.parses["address"].is_unique().all()
        parses = self.parses if usable else None
        index = self.index if self.index is not None and self.index.schema == pl.Schema(INDEX_SCHEMA) else None
        return AddressParses(parses, index)


def parser_for(cache: HouseholdsCache | None) -> AddressParses:
    """The parser of a households stage: reusing ``cache`` (the previous published run's) when usable."""
    return AddressParses() if cache is None else cache.parser()


def empty_index() -> pl.DataFrame:
    """An index frame of no gazetteer."""
    return pl.DataFrame(schema=INDEX_SCHEMA)
