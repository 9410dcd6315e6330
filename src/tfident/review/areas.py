"""The council's areas: which households a coordinator assigned to areas sees (``config/areas.yaml``).

An area is a list of postcode sectors (``LS9 7``) and districts (``LS8``); a household
is in the first area whose sector, else district, its postcode falls in. A coordinator
with areas sees, opens and exports only the families in them; a family outside is a 404
with an audit row. An account without areas sees the whole council, as do auditors.

Areas are data, validated when the app starts::

    areas:
      - name: Inner East
        postcode_sectors: [LS9 6, LS9 7]
        postcode_districts: [LS8]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator

from tfident.config import StrictModel, config_path, load_model
from tfident.store.review import AreaScope

AREAS_FILE = "areas.yaml"
_DISTRICT = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]?")
_SECTOR = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]? [0-9]")


def _normal(postcode: str | None) -> str:
    return " ".join((postcode or "").upper().split())


class AreaConfig(StrictModel):
    """One area and the postcode sectors and districts it covers."""

    name: str = Field(min_length=1, max_length=64)
    postcode_sectors: tuple[str, ...] = ()
    postcode_districts: tuple[str, ...] = ()

    @field_validator("postcode_sectors")
    @classmethod
    def _sectors(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(_normal(v) for v in values)
        bad = [v for v in cleaned if not _SECTOR.fullmatch(v)]
        if bad:
            raise ValueError(f"not postcode sectors (like 'LS9 7'): {', '.join(bad)}")
        return cleaned

    @field_validator("postcode_districts")
    @classmethod
    def _districts(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(_normal(v) for v in values)
        bad = [v for v in cleaned if not _DISTRICT.fullmatch(v)]
        if bad:
            raise ValueError(f"not postcode districts (like 'LS8'): {', '.join(bad)}")
        return cleaned


class AreasConfig(StrictModel):
    """``config/areas.yaml``: the council's areas, with unique names."""

    areas: tuple[AreaConfig, ...] = ()

    @field_validator("areas")
    @classmethod
    def _unique(cls, areas: tuple[AreaConfig, ...]) -> tuple[AreaConfig, ...]:
        names = [a.name for a in areas]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"area names must be unique: {', '.join(twice)}")
        return areas


@dataclass(frozen=True)
class AreaMap:
    """Postcodes to areas, and the postcode prefixes of a set of areas (for the database query)."""

    config: AreasConfig

    @classmethod
    def load(cls, path: Path | None = None) -> AreaMap:
        """The areas of ``path``, else of ``areas.yaml`` in the config folders, else none."""
        path = path or config_path(AREAS_FILE)
        if not path.exists():
            return cls(AreasConfig())
        return cls(load_model(path, AreasConfig))

    @property
    def names(self) -> list[str]:
        """The areas' names, in the file's order."""
        return [a.name for a in self.config.areas]

    def area_of(self, postcode: str | None) -> str | None:
        """The area of a postcode (sector first, then district), or None."""
        code = _normal(postcode)
        if not code:
            return None
        parts = code.split(" ")
        sector = f"{parts[0]} {parts[1][:1]}" if len(parts) > 1 and parts[1] else None
        for area in self.config.areas:
            if sector and sector in area.postcode_sectors:
                return area.name
        for area in self.config.areas:
            if parts[0] in area.postcode_districts:
                return area.name
        return None

    def within(self, postcode: str | None, areas: tuple[str, ...]) -> bool:
        """Whether a household at ``postcode`` is in one of ``areas`` (empty: the whole council, always)."""
        return not areas or self.area_of(postcode) in areas

    def scope(self, areas: tuple[str, ...]) -> AreaScope | None:
        """For the database query: the sectors and districts of ``areas``, less the sectors of *other*
        areas inside those districts (a sector wins over a district). None: no areas, the whole council.
        """
        if not areas:
            return None
        chosen = [a for a in self.config.areas if a.name in areas]
        sectors = tuple(s for a in chosen for s in a.postcode_sectors)
        districts = tuple(d for a in chosen for d in a.postcode_districts)
        excluded = tuple(
            s
            for a in self.config.areas
            if a.name not in areas
            for s in a.postcode_sectors
            if s.split(" ")[0] in districts
        )
        return AreaScope(sectors=sectors, districts=districts, excluded=excluded)
