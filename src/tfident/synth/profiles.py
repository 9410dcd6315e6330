"""Error profiles: how often and in which ways the agencies' records go wrong.

A :class:`Profile` is data: multipliers and rates for the faults of
:mod:`tfident.synth.faults`, plus four changes to the world the extracts are drawn
from (new-build addresses missing from the gazetteer, duplicate gazetteer entries,
families whose move only one member's record shows, parents who stayed when their
family moved). The built-in profiles live in
``profiles.yaml`` beside this module; :func:`get_profile` takes a built-in's name or the
path of a YAML file holding one profile. ``default`` changes nothing: the generator
gives the same bytes as it always has.

The truth files never depend on the profile's faults: a record is always its true
person's, in that person's true household on the batch date (contract section 7).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tfident.errors import ConfigError
from tfident.synth.faults import DEFAULT_RATES, PROFILE_RATES, SOURCE_RATES

RATE_NAMES: frozenset[str] = frozenset(DEFAULT_RATES) | frozenset(PROFILE_RATES)
"""Every rate a profile may set or scale."""

PERSON_SOURCES: tuple[str, ...] = tuple(SOURCE_RATES)
"""The person sources a profile may set rates for."""


def _check_rates(values: dict[str, float], what: str) -> dict[str, float]:
    unknown = sorted(set(values) - RATE_NAMES)
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(sorted(RATE_NAMES))}")
    return values


class Profile(BaseModel):
    """One error profile (frozen; unknown keys are an error)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    scale: dict[str, float] = Field(default_factory=dict)
    """Multiplies a fault's built-in rate in every source (the result is kept within 0 to 1)."""
    rates: dict[str, float] = Field(default_factory=dict)
    """Sets a fault's rate in every source."""
    sources: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Sets a fault's rate in one source (after ``scale`` and ``rates``)."""
    new_build_share: float = Field(default=0.0, ge=0.0, le=0.5)
    """About this share of in-area households live on new-build streets not yet in the gazetteer."""
    gazetteer_duplicate_share: float = Field(default=0.0, ge=0.0, le=0.5)
    """This share of gazetteer addresses appear twice, with a second UPRN (an ambiguous address)."""
    move_seen_by_one: float = Field(default=0.0, ge=0.0, le=1.0)
    """Of the families that moved in the last year (and whose old home nobody else took), this
    share moved after every record of theirs but one: a record of one member dated after the
    move shows the new address; the others have no record since."""
    separated_share: float = Field(default=0.0, ge=0.0, le=1.0)
    """Of the in-area families that moved in the last year from a home now empty, with two or
    more adults, this share left one adult (a parent where there is one) behind: that adult never
    moved and is a true household of their own at the old address."""

    @field_validator("scale")
    @classmethod
    def _scale_known(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in value.values()):
            raise ValueError("a scale must not be negative")
        return _check_rates(value, "scaled rate")

    @field_validator("rates")
    @classmethod
    def _rates_known(cls, value: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= v <= 1 for v in value.values()):
            raise ValueError("a rate must be between 0 and 1")
        return _check_rates(value, "rate")

    @field_validator("sources")
    @classmethod
    def _sources_known(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        unknown = sorted(set(value) - set(PERSON_SOURCES))
        if unknown:
            raise ValueError(f"unknown source {', '.join(unknown)}; known: {', '.join(PERSON_SOURCES)}")
        for source, rates in value.items():
            if any(not 0 <= v <= 1 for v in rates.values()):
                raise ValueError(f"a rate of {source} must be between 0 and 1")
            _check_rates(rates, f"rate of {source}")
        return value

    @property
    def is_default(self) -> bool:
        """Whether the profile changes nothing (the generator's output is the default's)."""
        return (
            not self.scale
            and not self.rates
            and not self.sources
            and self.new_build_share == 0
            and self.gazetteer_duplicate_share == 0
            and self.move_seen_by_one == 0
            and self.separated_share == 0
        )

    def rates_for(self, source: str) -> dict[str, float]:
        """Every fault rate of ``source`` under this profile."""
        merged = {**DEFAULT_RATES, **SOURCE_RATES.get(source, {}), **PROFILE_RATES}
        if self.is_default:
            return merged
        for key, factor in self.scale.items():
            merged[key] = min(1.0, merged[key] * factor)
        merged.update(self.rates)
        merged.update(self.sources.get(source, {}))
        return merged


DEFAULT_PROFILE = Profile(name="default", description="The generator as it always was.")


@cache
def builtin_profiles() -> dict[str, Profile]:
    """The built-in profiles of ``profiles.yaml``, by name."""
    text = resources.files("tfident.synth").joinpath("profiles.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {name: Profile(name=name, **(body or {})) for name, body in data.items()}


PROFILE_NAMES: tuple[str, ...] = ("default", "clean", "messy", "lagged")
"""The built-in profiles' names (those of ``profiles.yaml``)."""


def _from_yaml(path: Path) -> Profile:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the synth profile {path}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"the synth profile {path} must be a mapping of rates")
    data.setdefault("name", path.stem)
    try:
        return Profile(**data)
    except ValidationError as error:
        raise ConfigError(f"invalid synth profile {path}: {error}") from None


def get_profile(profile: str | Path | Profile | None) -> Profile:
    """The profile ``profile`` names: a built-in's name, a YAML file's path, or a profile itself.

    ``None`` is ``default``. An unknown name is one :class:`~tfident.errors.ConfigError`
    listing the built-in names.
    """
    if profile is None:
        return DEFAULT_PROFILE
    if isinstance(profile, Profile):
        return profile
    name = str(profile)
    if name == "default":
        return DEFAULT_PROFILE
    builtins = builtin_profiles()
    if name in builtins:
        return builtins[name]
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return _from_yaml(path)
    raise ConfigError(
        f"unknown synth profile {name!r}: choose one of {', '.join(builtins)} (or give the path of a .yaml file)"
    )


__all__ = ["DEFAULT_PROFILE", "PROFILE_NAMES", "RATE_NAMES", "Profile", "builtin_profiles", "get_profile"]
