"""tfident.households: place every linked person at one address on the batch date D.

The rules, with the reasons for them, are in ``docs/households.md``.

**Addresses.** A record's address is its matched UPRN (``uprn_matched``) when the
gazetteer matcher found one. A record whose address matched no single UPRN still has an
address: its *normalised address key*, the canonical address text (``FLAT 2 14 HIGH
STREET``, :func:`tfident.standardise.addresses.parse_addresses`) within the postcode's
outward code (or, without a postcode, with the locality and town words of the text), and
an :data:`ADDRESS_STATUSES` reason saying why it has no UPRN, judged against the
gazetteer: ``out_of_area`` (an outward code, or without a postcode a town, the gazetteer
does not have), ``ambiguous`` (no flat given, and the house number and street name belong
to two or more gazetteer addresses there: a block of flats) or
``not_in_gazetteer`` (a new build, or text the matcher could not read). A record with no
address text, or with neither a postcode nor a town, cannot place anyone.

A record with no postcode at an address with no UPRN takes the outward code of that address
text in that town written with a postcode, when the batch (else the person's own records) has
exactly one (``complete_postcodes``). A record whose text names no flat but whose UPRN is one flat
of a block takes the flat the person's records naming one there name, when exactly one other
(``recheck_flat_uprns``). A person who lives at a block's flat-less address, none of whose records
names a flat there, takes the one flat of the block where a child of their standardised surname lives,
or an adult of a surname fewer than ``flat_from_surname_rare`` of the batch's people have
(``flat_from_surname``; the household is flagged for review). A house number and street with no
postcode that the gazetteer has in two or more outward codes is read the same way, its houses as the
flats of one building.

**A person's address at D** is that of their most recent address evidence: the
candidate addresses are ranked by when each was first evidenced, latest first (an
address the person was first seen at *before* another of their addresses is a former
address, however recent the agency's record of it: a benefit claim whose address DWP
never updated), then by the most recent evidence, then by the source whose address is
the more reliable record of where someone lives now (each source's
``residence_priority`` in ``tfident/ingest/sources.yaml``: :data:`RESIDENCE_PRIORITY`),
then by the smallest record key. An address with no UPRN that only open records show ranks
after the dated ones, unless the same source's record of the person at another address has
ended, or none of the dated ones has evidence in ``undated_after_months``.

**Moved alone** (``config/households.yaml``): when one member's newer address is first
evidenced after every other member's latest record (open benefit claims and social care
episodes, dated D while open, are not records of where someone was), those members
shared the old address with them and none of them has been seen since the move, the
family either moves together (``move_together``, the default), stays together at the
old address (``keep_together``) or is left split (``split``); the household is flagged
for review (``review_reason``). Someone first seen at the old address after the movers' last
record there, and seen elsewhere before, moved in since: they neither stay with nor go with
the family; the movers' last record there is their last from a source that does not lag the
move (``lagging_newcomers``). Someone only open records place at the old address came since if
seen elsewhere after that (``undated_arrivals``), and once anyone has moved in since, stays there
(``undated_with_newcomers``). Nor is the family moved into a home someone of another family was
seen living in before the move and since (``lagging_occupants``: seen since by a source that does
not lag the move). A family that moved in from outside the area is not kept there by a school feed's
records of the others that the same feed contradicts for a mover (``arrival_sources``). Once a family
has moved into the old address, the others' records there from before it came do not keep them
(``newcomers_vacate``); someone with no record before the move, first seen at the old address after
it by a source that does not lag the move, neither keeps the family nor goes with it
(``first_seen_after_move``).

**A record at the home the family left** (``former_homes``, after the moved-alone rule): a person
placed at B goes to A, another address of theirs, when people placed at A moved there from B (every
dated record of theirs at B before their first at A) no later than the person's own first dated record
at A, and no dated record of the person's since then is at a third address; A not ``out_of_area``
(flag ``former_home``; not with ``moved_alone: split``).

**An open claim left at the old home** (``stale_claims``, after the moved-alone rule): someone whom a
live claim (dated D) places at the home their household's children left, whose own latest dated record,
dated after the claim was opened, is at the address the children moved to, is placed there with them
(flag ``stale_claim``). When the claim was opened is read from the batch's extract
(:func:`open_record_starts`).

**Left behind** (``left_behind``, after that): children who moved from O to N, with everyone at N
having come from O or with them, take the people of O seen there before the move, and those every
record of whom is at O since it and who share the family's surname, unless a child of O stays or a
source that has seen the move still records them at O (flag ``left_behind``; ``lone_children`` where
only children were at N). A parent whose agencies never heard of a move looks, on the records, like
a separated parent who stayed: docs/households.md, "Adults left behind and rare surnames".

**Children alone** (``children_rejoin``, last): a child placed where nobody is an adult or of unknown
age goes back to the home they were seen at before, when an adult placed there was seen there before the
child left, or is known only there and shares the child's surname or was recorded there while the
child's own records still gave it; not to a home ``out_of_area`` (flag ``children_rejoined``;
docs/households.md, "Children alone: back to the home they left").

**Children left behind** (``children_follow``, after that): a child placed where nobody is an adult or
of unknown age, every record of whom is there, goes to the one address where the adults seen there up to
the child's last record there are now placed, unless it is ``out_of_area`` (flag ``children_followed``;
docs/households.md, "Children left at the old home").

**Moved in** (``moved_in``, after that): an adult placed outside the area goes to the address in the
area their own dated record gives where only children are placed, one of whom was recorded at the
adult's address outside it before coming there (flag ``moved_in``; docs/households.md, "Adults still
placed outside the area").

**Nobody placed on nobody's word** (``unseen_homes``, after that): the people of an address at which no
record of anyone placed there is (a rule took them along with someone a later rule placed elsewhere) go
back to the address their own records give (docs/households.md, "A household no record places there").

**Postcode only** (``postcode_only``, after every rule above): a person no record of whom gives an
address (only a postcode) joins the one address a record at which gives one of their postcodes and
where someone placed was recorded at the same incident (``postcode_only_incidents``) or has their
rare standardised surname (``postcode_only_rare``; flag ``postcode_only``).

Households are the people placed at one address. The id of a UPRN household is ``H``
and the first 12 hex digits of the SHA-1 of the UPRN (:func:`household_id_for`); that of
a household at a normalised address the same of its key
(:func:`household_id_for_address`). Households ``out_of_area`` are formed and counted
but are not the council's to work with (:data:`NOT_CANDIDATE_STATUSES`).
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field, ValidationInfo, field_validator

from tfident.config import StrictModel, config_path, load_model
from tfident.households.incremental import AddressParses, GazetteerIndex
from tfident.households.roles import ROLES, Role, role_expr
from tfident.ingest.identifiers import postcode_expr, postcode_outward_expr
from tfident.ingest.sources import OPEN_RECORD_SOURCES, SOURCES

__all__ = [
    "ADDRESS_STATUSES",
    "NOT_CANDIDATE_STATUSES",
    "RESIDENCE_PRIORITY",
    "REVIEW_REASONS",
    "ROLES",
    "HouseholdsConfig",
    "Role",
    "assign_households",
    "former_homes",
    "household_id_for",
    "household_id_for_address",
    "load_households_config",
    "open_record_starts",
    "unseen_homes",
]

log = logging.getLogger(__name__)

RESIDENCE_PRIORITY: dict[str, int] = {
    name: source.residence_priority for name, source in SOURCES.items() if source.residence_priority is not None
}
"""Each person source's ``residence_priority`` (1: its address most reliably shows where someone lives now)."""

ADDRESS_STATUSES: tuple[str, ...] = ("not_in_gazetteer", "ambiguous", "out_of_area")
"""``households.address_status`` of a household whose address matched no single UPRN
(null for a household at a UPRN)."""

NOT_CANDIDATE_STATUSES: tuple[str, ...] = ("out_of_area",)
"""Address statuses of households that are formed and counted but never candidates: a
family living outside the council's area is not the council's to work with."""

REVIEW_REASONS: tuple[str, ...] = (
    "moved_together",
    "kept_together",
    "moved_alone",
    "stale_claim",
    "lone_children",
    "left_behind",
    "children_rejoined",
    "children_followed",
    "moved_in",
    "flat_from_surname",
    "postcode_only",
    "former_home",
)
"""``households.review_reason``: the family was placed by the moved-alone rule, a member whose
open claim gives the home the children left was placed with them (``stale_claims``), the adults of
the home children left alone were placed with them (``lone_children``), adults whose agencies never
recorded the family's move were placed with it (``left_behind``), children placed where no adult
went back to the adults of the home they left (``children_rejoined``), a child alone at the home the
adults left was placed with them (``children_followed``), an adult placed outside the area was placed
with the children of the home they left at the in-area address their own records give (``moved_in``), a
member's flat was
taken from the people of their surname in the block (``flat_from_surname``), or a member whose records
give only a postcode was placed with the people there recorded with them or of their rare surname
(``postcode_only``), or a member whom an agency still records at the home the family had left, after
their own records placed them with it at its new one, was placed there with them (``former_home``)."""

SCHOOL_SOURCES: tuple[str, ...] = tuple(name for name, s in SOURCES.items() if s.person and s.sender == "schools")
"""Person sources schools send (``sender: schools`` in ``sources.yaml``)."""

MovedAlone = Literal["move_together", "keep_together", "split"]


class HouseholdsConfig(StrictModel):
    """``config/households.yaml``: how households are formed (see ``docs/households.md``)."""

    moved_alone: MovedAlone = "move_together"
    """What to do when one member's records show a new address and the others have no
    record since: move them together, keep them together at the old address, or split."""
    mover_roles: tuple[Role, ...] = ROLES
    """Roles (age at D) of a member whose move alone may carry the family with them."""
    lagging_sources: bool = True
    """Allow for agencies that lag a move: a member's address first seen before their new
    one is a former address even when an agency still records it after the move, and that
    agency's records of the others at the old address since the move (it lags for this
    family: it still shows the mover there) do not count as the others being seen there.
    False: the rule as before (the mover's last record at the old address no later than
    their first at the new, and any record of the others since the move keeps them)."""
    lagging_occupants: bool = True
    """Someone of another family seen at the mover's new address before the move keeps the family
    out of it only if a source that does not lag this move (one that does not still show a mover
    at the old address after the move) has seen them there since: a school feed that has not
    heard the family moved out of the old home has not heard that the occupant left the new one
    either. False: any record of them there since the move keeps the family out (the rule before).
    Only with ``lagging_sources``."""
    lagging_newcomers: bool = True
    """Someone first seen at the old address after the movers' last record there (and elsewhere
    before) moved in since and does not go with the family; the movers' last record there is their
    last from a source that does not lag this move (a feed that still shows a mover at the old
    address after the move does not date when they left). False: from any source (the rule
    before). Only with ``lagging_sources``."""
    arrival_sources: tuple[str, ...] = SCHOOL_SOURCES
    """A family that moved in from outside the area (the movers' old address is ``out_of_area``):
    a source here that records a mover at the new address since the move has heard of the move
    for them, and its records of the others at the old address since then do not keep the others
    outside the area. By default the sources schools send (``sender: schools`` in
    ``sources.yaml``: a school updates one pupil's address and not yet a sibling's). Empty: off
    (the rule before). Only with ``lagging_sources``."""
    complete_postcodes: bool = True
    """A record with no postcode at an address with no UPRN takes the outward code (and status) of
    the same address text with the same town words written with a postcode, when the batch has it
    in exactly one outward code, else when the person's own records give it in exactly one. False:
    its key is the address within the town words (the rule before)."""
    own_uprns: bool = True
    """A record with no UPRN (``ambiguous`` or ``not_in_gazetteer``) whose flat, house number, street and
    outward code (with no postcode: flat, house number and street) are those of exactly one of the
    UPRNs the person's other records are at takes that UPRN: the person's own records say which
    address the text means. False: the text is an address of its own (the rule before)."""
    recheck_flat_uprns: bool = True
    """A record whose address text names no flat but whose UPRN (most often the agency's own) is one
    flat of a block takes the flat the person's records that name a flat in that building name, when
    they name exactly one other flat: the text does not say which flat, the person's records do.
    False: the UPRN stands (the rule before)."""
    duplicate_uprns_as_text: bool = True
    """A UPRN whose address (outward code, flat, house number and street) the gazetteer holds under
    another UPRN too (an LLPG that lists one home twice) is keyed as that address's normalised text,
    the key a record with that text and no UPRN gets, flagged ``ambiguous``: a family whose agencies
    chose different UPRNs of the home, or none, is one household there. Distinct flats of a block
    are distinct addresses and are not merged. False: each UPRN is its own address (the rule before)."""
    flat_from_surname: bool = True
    """A person living at a block's flat-less address (``ambiguous``, or a block the gazetteer lacks)
    none of whose records names a flat there takes the one flat of the block (same outward code,
    house number and street; no postcode: house number and street) where people of their
    standardised surname live on D by their own records; their household is flagged
    ``flat_from_surname``. No such flat, or two or more: they stay at the block's address. A house
    number and street with no postcode that the gazetteer has in two or more outward codes is read the
    same way, its houses as the flats of one building. False: they stay there (the rule before)."""
    flat_from_surname_roles: tuple[Role, ...] = ("child",)
    """``flat_from_surname`` only from a flat where someone of the surname has one of these roles (age
    at D): by default a child, whose school records most often name the flat. An adult living alone
    in another flat of the block may share a common surname with no tie to the person."""
    flat_from_surname_rare: float | None = Field(default=0.01, gt=0, le=1)
    """An adult in a flat also counts for ``flat_from_surname`` (whatever ``flat_from_surname_roles``
    says) when fewer than this share of the batch's people have their standardised surname: a
    namesake by chance in the same block is then unlikely (docs/households.md, "Adults left behind and
    rare surnames"). None: only ``flat_from_surname_roles``."""
    first_seen_after_move: bool = True
    """Someone first seen anywhere after the move (no record of them before it, at any address), at
    the old address and by a source that does not lag the move, is not shown to have lived there
    with the movers: like a newcomer, they neither keep the family there nor go with it. Seen there
    only by a feed that lags the move, they go with the family as before. False: they are one of
    "the others" and their record since the move keeps the family apart (the rule before)."""
    newcomers_vacate: bool = True
    """Once a family has moved into the old address since the movers left, a record of one of the
    others there dated before the first newcomer came does not show that they still live there
    (the home was let to another family since); a record there since the newcomers came, or at any
    other address since the move, still does. False: any record there since the move keeps them (the
    rule before)."""
    undated_with_newcomers: bool = True
    """When a family moved into the old home since the movers left (someone first seen there after
    the movers' last record there, and elsewhere before), a member whom only open records place at
    the old address (a live claim or open episode, dated D; no dated record there) is not shown to
    have lived there with the movers either: they may belong to the family that moved in, and they
    neither go with the movers nor keep them. False: they go with the movers (the rule before)."""
    undated_arrivals: bool = True
    """Someone only open records place at the old address (no dated record there), seen at another
    address after the movers' last record there, moved in since the movers left (a newcomer, as one
    first seen there after them): they neither go with the movers nor keep them. False: they go
    with the movers (the rule before)."""
    undated_after_months: int | None = 6
    """An address with no UPRN that only open records show (undated: the claim may have been
    opened there years ago) ranks after the person's dated addresses, unless none of those has
    evidence in this many months before D: then the agency's current address is the best
    evidence there is (a family that left the area, whose live claims show the new address and
    whose last record here is older). None: it always ranks last (the rule before)."""
    open_record_sources: tuple[str, ...] = OPEN_RECORD_SOURCES
    """Sources whose open records (a live claim, an open episode) are dated D: they say
    the agency still holds the address, not that the person was seen there lately. By
    default those whose ``evidence_date`` is ``open_until`` an end date (``sources.yaml``)."""
    stale_claims: tuple[str, ...] = ("benefits",)
    """Sources whose open record may keep an address its person has left: someone whom such a
    record (open, so dated D) places at the home their household's children left, while their own
    latest dated record, after the record was opened, gives the address the children moved to, is
    placed there with the children (flag ``stale_claim``). Each must be a source open until an end
    date whose start is known (``end_of`` in ``sources.yaml``). Empty: off (the rule before)."""

    lone_children: bool = False
    """Off by default. True: children placed at N with no adult (nor anyone of unknown age), every one
    of whom moved there from one O (seen at O before they were first seen at N), take the adults
    placed at O who were seen at O before the children's move, when no child of the home (seen there
    before the move) is still placed at O and no record of those adults at O since the move comes from
    a source that has seen one of the children at N since (that source heard of the move and still
    holds the adult at O). The household is flagged ``lone_children``. Only with ``moved_alone:
    move_together`` and ``child`` among ``mover_roles``. It overrides "a member seen at the old
    address since the move stays" for these families: on the records a parent whose agencies never
    heard of the move and a separated parent who stayed are the same (docs/households.md, "Children
    placed alone"). ``left_behind`` takes these families too: this matters only with it off."""

    left_behind: bool = True
    """The lone-children rule widened (on by default): children who moved from O to N take the adults
    of O who were seen there before the move, or all of whose records (open ones too) are at O from
    after it and who share a surname with someone at N, whatever adults are with the children at N,
    provided everyone at N came from O, came with them (first seen anywhere at N, since the move) or
    is known only from an open record; not when a child of O stays there, nor when a source that has
    seen a mover at N since the move still records the adult at O. The household is flagged
    ``left_behind`` (``lone_children`` where only children were placed at N). A parent whose
    agencies never heard of a move and a separated parent who stayed look the same on the records:
    measured on profiles with and without separations (docs/households.md, "Adults left behind and
    rare surnames").
    Only with ``moved_alone: move_together`` and ``child`` among ``mover_roles``."""

    children_rejoin: bool = True
    """On by default, applied after every other rule: a child placed at an address where nobody placed is
    an adult or of unknown age goes back to the home they were seen at before it, when an adult placed
    there was seen there before the child's first record at the new address, or every record of that
    adult (open ones too) is there and they share the child's surname or were first seen there on or
    before the child's last record there (unless someone placed there came from elsewhere since the
    child left); not when that home is ``out_of_area``. The household is flagged ``children_rejoined``.
    A child does not live alone: on the records the adults' agencies not having heard of a move and the
    child's new address being with an adult no agency knows look the same (docs/households.md, "Children
    alone: back to the home they left"). Not with ``moved_alone: split`` (each is placed where their own
    records say). False: the rule before (the child stays where their own records say)."""

    children_follow: bool = True
    """On by default, after ``children_rejoin``: a child placed at an address where nobody placed is an
    adult or of unknown age, every record of whom is there, goes to the one address where the adults
    seen there up to the child's last record there (a dated record there on or before it) are now
    placed, unless it is ``out_of_area``. The household is flagged ``children_followed``. The mirror of
    ``children_rejoin``: the adults' agencies recorded the move, the child's did not
    (docs/households.md, "Children left at the old home"). Not with ``moved_alone: split``."""

    moved_in: bool = True
    """On by default, after ``children_follow``: an adult placed at an ``out_of_area`` address O, with a
    dated record (not an open one) at an address N in the area where only children are placed, one of
    whom was recorded at O before their first record at N, goes to N (one such N: two, and they stay).
    The family moved into the area; the child's agencies and one of the adult's have recorded it, and
    the adult's latest record (a police record, an open claim) still gives the home outside it. The
    household is flagged ``moved_in`` (docs/households.md, "Adults still placed outside the area"). Not
    with ``moved_alone: split``. False: the rule before."""

    former_homes: bool = True
    """On by default, after the moved-alone rule (before ``stale_claims``): a person placed at B goes to
    A, another address of theirs, when people placed at A moved there from B (every dated record of
    theirs at B is before their first at A) no later than the person's own first dated record at A, and
    no dated record of the person's since their first at A is at a third address. The family had left B
    before the person was seen with them at A; an agency that still gives B later (a health record, a
    live claim) has the family's former home, not a move of the person's back to a home the family had
    left. A ``out_of_area``: the person stays. The household is flagged ``former_home``
    (docs/households.md, "A record at the home the family left"). Not with ``moved_alone: split`` (each
    is placed where their own records say). False: the rule before."""

    unseen_homes: bool = True
    """On by default, after ``moved_in`` (before ``postcode_only``): the people of a household at whose
    address no record of any member is (every one of them was placed there by a rule, for someone who has
    since been placed elsewhere) go back to the address their own records give (the address first
    evidenced latest, above). The moved-alone rule takes a sibling whose records all give O along with
    the children whose records moved to N; ``children_rejoin`` then takes those children back to O, their
    adult's home, and the sibling was left alone at N, an address nothing of theirs gives (lagged seed
    156, TH000609). False: the rule before (they stay)."""

    postcode_only: bool = True
    """On by default, after every other rule: a person no record of whom gives an address (an agency
    that keyed only the postcode) joins the one address, of those a record at which gives one of
    their postcodes, where someone placed was recorded at the same incident (a record of one of
    ``postcode_only_incidents`` with the same date and postcode) or shares their standardised surname
    when that surname is rare (``postcode_only_rare``). The household is flagged ``postcode_only``.
    Two such addresses, or none: they stay unplaced (docs/households.md, "Postcode only")."""
    postcode_only_rare: float | None = Field(default=0.01, gt=0, le=1)
    """``postcode_only`` ties a person to a household of their surname only when fewer than this
    share of the batch's people have the surname (a namesake in a postcode of some fifteen homes is
    then unlikely by chance). None: any surname."""
    postcode_only_incidents: tuple[str, ...] = ("domestic_abuse",)
    """Sources whose records of one date at one postcode are one incident at one home (the police
    record each person present at a domestic abuse incident): ``postcode_only`` ties a person to
    the household of someone recorded with them."""

    @field_validator("postcode_only_incidents")
    @classmethod
    def _person_sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in SOURCES or not SOURCES[name].person:
                raise ValueError(f"{name!r} is not a person source (src/tfident/ingest/sources.yaml)")
        return value

    @field_validator("stale_claims")
    @classmethod
    def _opened_sources(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for name in value:
            if _start_column(name) is None:
                raise ValueError(f"{name!r} is not a source open until an end date with a start date (sources.yaml)")
            if name not in info.data.get("open_record_sources", ()):
                raise ValueError(f"{name!r} is not one of open_record_sources: its open records are not dated D")
        return value


def _start_column(source: str) -> str | None:
    """The column a record of ``source`` (open until an end date) was opened on, or None."""
    spec = SOURCES[source].evidence_date if source in SOURCES else None
    if spec is None or spec.open_until is None:
        return None
    return SOURCES[source].column(spec.open_until).end_of


OPENED_SCHEMA: dict[str, pl.DataType] = {"record_key": pl.String(), "opened": pl.Date()}
"""``record_key, opened``: when a record open until an end date (a claim) was opened."""


def open_record_starts(extracts: Mapping[str, pl.DataFrame], sources: Iterable[str]) -> pl.DataFrame:
    """``record_key, opened`` (:data:`OPENED_SCHEMA`) of every record of ``sources`` in the batch's
    ``extracts``: the start of a claim or episode (``claim_start``: the column the source's end date
    is ``end_of`` in ``sources.yaml``). The standardised records keep only the evidence date, which is
    D while the record is open; the ``stale_claims`` rule needs when it was opened.
    """
    frames = []
    for name in dict.fromkeys(sources):
        start, frame = _start_column(name), extracts.get(name)
        if start is None or frame is None or start not in frame.columns or "record_id" not in frame.columns:
            continue
        when = pl.col(start)
        when = when.str.to_date(strict=False) if frame.schema[start] == pl.String else when.cast(pl.Date, strict=False)
        frames.append(
            frame.select(
                (pl.lit(f"{name}:") + pl.col("record_id").cast(pl.String)).alias("record_key"),
                when.alias("opened"),
            )
        )
    if not frames:
        return pl.DataFrame(schema=OPENED_SCHEMA)
    return pl.concat(frames).filter(pl.col("opened").is_not_null()).unique("record_key", keep="first")


def load_households_config(path: Path | None = None) -> HouseholdsConfig:
    """Load ``config/households.yaml`` (or ``path``)."""
    return load_model(path or config_path("households.yaml"), HouseholdsConfig)


RESIDENTS_SCHEMA: dict[str, pl.DataType] = {
    "person_id": pl.String(),
    "household_id": pl.String(),
    "uprn": pl.Int64(),
    "role": pl.String(),
    "date_of_birth": pl.Date(),
}
HOUSEHOLDS_SCHEMA: dict[str, pl.DataType] = {
    "household_id": pl.String(),
    "uprn": pl.Int64(),
    "address": pl.String(),
    "postcode": pl.String(),
    "n_members": pl.Int64(),
    "address_status": pl.String(),
    "review_reason": pl.String(),
}


def household_id_for(uprn: int) -> str:
    """A household's id: ``H`` and the first 12 hex digits of the SHA-1 of its UPRN."""
    return "H" + hashlib.sha1(str(uprn).encode("ascii")).hexdigest()[:12]


def household_id_for_address(key: str) -> str:
    """The id of a household at a normalised address (no UPRN): ``H`` and 12 hex digits of
    the SHA-1 of ``address:`` and its key, so it never equals a UPRN household's id.
    """
    return "H" + hashlib.sha1(f"address:{key}".encode()).hexdigest()[:12]


def resolve_dob(records: pl.DataFrame) -> pl.DataFrame:
    """``person_id, date_of_birth``: the most common known date of birth, ties to the most recent record."""
    known = records.filter(pl.col("date_of_birth").is_not_null())
    return (
        known.group_by("person_id", "date_of_birth")
        .agg(pl.len().alias("_n"), pl.col("evidence_date").max().alias("_latest"), pl.col("record_key").min())
        .sort(
            ["person_id", "_n", "_latest", "record_key"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .unique("person_id", keep="first", maintain_order=True)
        .select("person_id", "date_of_birth")
    )


def _words(text: str | None) -> list[str]:
    return sorted(set(text.replace(",", " ").split())) if text else []


def _building(outward: str | None, number: str, street: str) -> str:
    """The key of a building (outward code, house number, street) that holds several flats."""
    return f"{outward or ''}|{number}|{street}"


def _gazetteer_input(gazetteer: pl.DataFrame) -> pl.DataFrame:
    """What the gazetteer index is made from: each UPRN's address text and outward code
    (:data:`tfident.households.incremental.GAZETTEER_INPUT_SCHEMA`).
    """
    lines = [c for c in ("address_line_1", "address_line_2", "address_line_3", "town") if c in gazetteer.columns]
    return gazetteer.select(
        pl.col("uprn").cast(pl.Int64, strict=False),
        pl.concat_str([pl.col(c) for c in lines], separator=", ", ignore_nulls=True).alias("address"),
        postcode_outward_expr(pl.col("postcode")).alias("outward"),
    ).filter(pl.col("uprn").is_not_null())


def _gazetteer_index(gazetteer: pl.DataFrame | None, parses: AddressParses | None = None) -> GazetteerIndex:
    """The gazetteer's outward codes, its locality and town words, how many UPRNs each
    (outward code, house number, street) has (outward ``""``: anywhere), the building
    key (:func:`_building`) of every UPRN of a building with several, the text key
    (``A:<outward>|<address_std>``) of every UPRN whose address (outward code, flat, house
    number and street) another UPRN has too: the gazetteer holds that address twice, and those
    parts of every UPRN's address (:func:`_parts`). ``parses``
    reuses the previous run's index when its gazetteer input was exactly this one.
    """
    if gazetteer is None:
        return set(), set(), {}, {}, {}, {}
    parses = parses or AddressParses()
    return parses.gazetteer_index(_gazetteer_input(gazetteer), lambda frame: _index_of(parses.parse(frame)))


def _index_of(gaz: pl.DataFrame) -> GazetteerIndex:
    """:func:`_gazetteer_index` of the parsed gazetteer input."""
    outwards = set(gaz["outward"].drop_nulls().to_list())
    places: set[str] = set()
    for place in gaz["place"].drop_nulls().unique().to_list():
        places.update(_words(place))
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for outward, number, street in gaz.select("outward", "number", "street").iter_rows():
        if number is not None and street is not None:
            counts[(outward or "", number, street)] += 1
            counts[("", number, street)] += 1
    buildings = {
        uprn: _building(outward, number, street)
        for uprn, outward, number, street in gaz.select("uprn", "outward", "number", "street").iter_rows()
        if number is not None and street is not None and counts[(outward or "", number, street)] > 1
    }
    # one address under two or more UPRNs: the same outward code, flat, house number and street
    same: dict[tuple[str, str | None, str, str], set[int]] = defaultdict(set)
    texts: dict[tuple[str, str | None, str, str], str] = {}
    for uprn, outward, flat, number, street, address_std in gaz.select(
        "uprn", "outward", "flat", "number", "street", "address_std"
    ).iter_rows():
        if outward is not None and number is not None and street is not None and address_std is not None:
            same[(outward, flat, number, street)].add(uprn)
            texts[(outward, flat, number, street)] = address_std
    duplicates = {
        uprn: f"A:{address[0]}|{texts[address]}"
        for address, uprns in same.items()
        if len(uprns) > 1
        for uprn in sorted(uprns)
    }
    address_parts = {
        uprn: _parts(outward, flat, number, street)
        for uprn, outward, flat, number, street in gaz.select("uprn", "outward", "flat", "number", "street").iter_rows()
        if number is not None and street is not None
    }
    return outwards, places, dict(counts), buildings, duplicates, address_parts


def _parts(outward: str | None, flat: str | None, number: str, street: str) -> str:
    """An address's outward code, flat, house number and street as one key (``TF7|FLAT 2|4|QUEENS
    STREET``; a part it lacks empty): what :func:`_own_uprns` compares.
    """
    return f"{outward or ''}|{flat or ''}|{number}|{street}"


def address_keys(
    records: pl.DataFrame,
    gazetteer: pl.DataFrame | None,
    complete_postcodes: bool = True,
    recheck_flat_uprns: bool = True,
    parses: AddressParses | None = None,
    flat_from_surname: bool = False,
    duplicate_uprns_as_text: bool = True,
    own_uprns: bool = True,
) -> pl.DataFrame:
    """``records`` with ``address_key`` (``U:<uprn>``, ``A:<outward>|<address>``, or
    ``A:~<town words>|<address>`` without a postcode; null when the record cannot place
    anyone) and ``address_status`` (null for a UPRN; else an :data:`ADDRESS_STATUSES`
    reason, or ``unusable`` for a record with no key). ``parses`` parses the address texts
    (reusing a previous run's, :mod:`tfident.households.incremental`); the result is the same.
    ``flat_from_surname`` (with ``person_id``): also ``_flatless_block``, the building of a record
    still at a block's flat-less address, and ``_flat_building``, that of a record naming a flat
    (for :func:`_flat_from_surname`). ``duplicate_uprns_as_text``: a UPRN whose address the
    gazetteer holds under another UPRN too is keyed as that address's text (the key a record
    with that text and no UPRN gets), ``ambiguous``, as is a record with that text. ``own_uprns``
    (with ``person_id``): a record with no UPRN whose address is that of one of the person's own
    UPRNs takes it (:func:`_own_uprns`).
    """
    parses = parses or AddressParses()
    postcode = pl.col("postcode_std") if "postcode_std" in records.columns else postcode_expr(pl.col("postcode"))
    unmatched = (
        records.filter(pl.col("uprn_matched").is_null())
        .select("address", postcode.alias("_postcode"))
        .unique()
        .with_columns(postcode_outward_expr(pl.col("_postcode")).alias("_outward"))
    )
    parsed = parses.parse(unmatched)
    outwards, places, counts, buildings, duplicates, address_parts = _gazetteer_index(gazetteer, parses)
    if not duplicate_uprns_as_text:
        duplicates = {}
    duplicated = set(duplicates.values())
    keys: list[str | None] = []
    statuses: list[str] = []
    blocks: list[str | None] = []
    flat_blocks: list[str | None] = []
    parts: list[str | None] = []
    for address_std, outward, flat, number, street, place in parsed.select(
        "address_std", "_outward", "flat", "number", "street", "place"
    ).iter_rows():
        words = _words(place)
        blocks.append(None)
        flat_blocks.append(None)
        parts.append(None if number is None or street is None else _parts(outward, flat, number, street))
        if address_std is None or (outward is None and not words):
            keys.append(None)
            statuses.append("unusable")
            continue
        key = f"A:{outward}|{address_std}" if outward else f"A:~{' '.join(words)}|{address_std}"
        keys.append(key)
        if gazetteer is None:
            statuses.append("not_in_gazetteer")
        elif (outward is not None and outward not in outwards) or (outward is None and not set(words) & places):
            statuses.append("out_of_area")
        elif flat is None and number is not None and counts.get((outward or "", number, street or ""), 0) > 1:
            statuses.append("ambiguous")
            blocks[-1] = _building(outward, number, street or "")
        elif key in duplicated and number is not None and street is not None:
            # a flat the gazetteer holds twice: which of its UPRNs is unknown
            statuses.append("ambiguous")
            flat_blocks[-1] = _building(outward, number, street)
        else:
            statuses.append("not_in_gazetteer")
            if number is not None and street is not None:
                # a building the gazetteer lacks (a new-build block): a record naming its flat
                # gives the person's flat there; one without a flat may take it
                if flat is None:
                    blocks[-1] = _building(outward, number, street)
                else:
                    flat_blocks[-1] = _building(outward, number, street)
    if complete_postcodes:
        _complete_town_postcodes(parsed["address_std"].to_list(), parsed["place"].to_list(), keys, statuses)
    keyed = parsed.select("address", "_postcode").with_columns(
        pl.Series("address_key", keys, dtype=pl.String),
        pl.Series("address_status", statuses, dtype=pl.String),
        pl.Series("_block", blocks, dtype=pl.String),
        pl.Series("_flat_block", flat_blocks, dtype=pl.String),
        pl.Series("_parts", parts, dtype=pl.String),
    )
    matched = pl.col("uprn_matched").is_not_null()
    building_of = pl.DataFrame(
        {"uprn_matched": list(buildings), "_uprn_block": list(buildings.values())},
        schema={"uprn_matched": pl.Int64, "_uprn_block": pl.String},
    )
    out = (
        records.with_columns(postcode.alias("_postcode"))
        .join(keyed, on=["address", "_postcode"], how="left", nulls_equal=True)
        .join(building_of, on="uprn_matched", how="left", maintain_order="left")
        .with_columns(
            pl.when(matched)
            .then(pl.lit("U:") + pl.col("uprn_matched").cast(pl.String))
            .otherwise(pl.col("address_key"))
            .alias("address_key"),
            pl.when(matched).then(None).otherwise(pl.col("address_status")).alias("address_status"),
            # the building of a record that names its flat: a gazetteer UPRN's, or one the gazetteer lacks
            pl.when(matched).then(pl.col("_uprn_block")).otherwise(pl.col("_flat_block")).alias("_uprn_block"),
        )
        .drop("_postcode", "_flat_block")
    )
    if "person_id" not in out.columns:
        return _duplicates_as_text(out, duplicates, buildings).drop("_block", "_uprn_block", "_parts")
    if recheck_flat_uprns:
        out = _recheck_flat_uprns(out, parses)
    out = _duplicates_as_text(out, duplicates, buildings)
    if flat_from_surname:
        houses = _houses(address_parts, counts, buildings)
        house_of = pl.DataFrame(
            {"address_key": [f"U:{uprn}" for uprn in houses], "_house": list(houses.values())},
            schema={"address_key": pl.String, "_house": pl.String},
        )
        out = (
            out.join(house_of, on="address_key", how="left", maintain_order="left")
            .with_columns(
                pl.col("_block").alias("_flatless_block"),
                pl.coalesce("_uprn_block", "_house").alias("_flat_building"),
                pl.col("address_key").alias("_before_flats"),
            )
            .drop("_house")
        )
    out = _complete_flats(out)
    if flat_from_surname:
        # still at the building's flat-less address: no record of the person's own gave the flat
        still = (pl.col("address_key") == pl.col("_before_flats")).fill_null(False)
        out = out.with_columns(pl.when(still).then(pl.col("_flatless_block")).alias("_flatless_block")).drop(
            "_before_flats"
        )
    if own_uprns:
        out = _own_uprns(out, address_parts)
    out = _complete_postcodes(out.drop("_parts")) if complete_postcodes else out.drop("_parts")
    if duplicated:  # a record that took a flat the gazetteer holds twice (its own records named it)
        at = pl.col("address_key").is_in(list(duplicated))
        out = out.with_columns(
            pl.when(at).then(pl.lit("ambiguous")).otherwise(pl.col("address_status")).alias("address_status")
        )
    return out


def _houses(
    address_parts: Mapping[int, str], counts: Mapping[tuple[str, str, str], int], buildings: Mapping[int, str]
) -> dict[int, str]:
    """The building key (:func:`_building`) of each gazetteer UPRN that is a house (no flat, alone at its
    house number and street in its outward code) whose house number and street the gazetteer also has in
    another outward code: a record giving that number and street with no postcode is ``ambiguous`` between
    them, and ``flat_from_surname`` may place it at the one where people of its surname live.
    """
    houses: dict[int, str] = {}
    for uprn, parts in address_parts.items():
        outward, flat, number, street = parts.split("|", 3)
        if not flat and uprn not in buildings and counts.get(("", number, street), 0) > 1:
            houses[uprn] = _building(outward or None, number, street)
    return houses


def _duplicates_as_text(records: pl.DataFrame, duplicates: dict[int, str], buildings: dict[int, str]) -> pl.DataFrame:
    """A record at a UPRN whose address the gazetteer holds under another UPRN too (``duplicates``:
    UPRN to the address's text key) is at that address's text key, ``ambiguous``, like a record
    with that text and no UPRN: which of the UPRNs is unknown, and a family whose agencies chose
    different ones (or none) is one household. Its building columns become the text record's: a
    flat-less address of a building (``_block``), or a flat of one (``_uprn_block``).
    """
    if not duplicates:
        return records
    uprns = list(duplicates)
    found = pl.DataFrame(
        {
            "address_key": [f"U:{u}" for u in uprns],
            "_dup_key": [duplicates[u] for u in uprns],
            "_dup_flat": [duplicates[u].split("|", 1)[1].startswith("FLAT ") for u in uprns],
            "_dup_building": [buildings.get(u) for u in uprns],
        },
        schema={"address_key": pl.String, "_dup_key": pl.String, "_dup_flat": pl.Boolean, "_dup_building": pl.String},
    )
    out = records.join(found, on="address_key", how="left", maintain_order="left")
    dup = pl.col("_dup_key").is_not_null()
    flat = dup & pl.col("_dup_flat")
    return out.with_columns(
        pl.when(dup).then(pl.col("_dup_key")).otherwise(pl.col("address_key")).alias("address_key"),
        pl.when(dup).then(pl.lit("ambiguous")).otherwise(pl.col("address_status")).alias("address_status"),
        pl.when(flat).then(None).when(dup).then(pl.col("_dup_building")).otherwise(pl.col("_block")).alias("_block"),
        pl.when(flat)
        .then(pl.col("_dup_building"))
        .when(dup)
        .then(None)
        .otherwise(pl.col("_uprn_block"))
        .alias("_uprn_block"),
    ).drop("_dup_key", "_dup_flat", "_dup_building")


def _own_uprns(records: pl.DataFrame, address_parts: Mapping[int, str]) -> pl.DataFrame:
    """A record with no UPRN (``ambiguous`` or ``not_in_gazetteer``) whose flat, house number, street
    and outward code are those of exactly one of the UPRNs the person's other records are at takes
    that UPRN (``own_uprns``); with no postcode, flat, house number and street alone. A school wrote
    ``4 Queens St, Tenford`` with no postcode for a boy whose other records give the UPRN of 4 Queens
    Street, Hollinsdale, TF7 9AT: the gazetteer has a 4 Queens Street in four outward codes, the
    text cannot choose among them, and his own records do. Without it the text was an address of
    its own, first seen after the UPRN, so it was taken for his newest home. ``address_parts``: the
    parts of each gazetteer UPRN's address (:func:`_parts`); ``_parts`` those of each record's text.
    """
    key = pl.col("address_key")
    open_to = (
        key.str.starts_with("A:")
        & pl.col("address_status").is_in(["ambiguous", "not_in_gazetteer"])
        & pl.col("_parts").is_not_null()
    )
    people = records.filter(open_to)["person_id"].unique()
    if people.is_empty():
        return records
    at_uprn = (
        records.filter(pl.col("person_id").is_in(people.implode()) & key.str.starts_with("U:"))
        .select("person_id", "address_key")
        .unique()
    )
    uprn_parts = at_uprn["address_key"].str.slice(2).cast(pl.Int64).to_list()
    at_uprn = at_uprn.with_columns(
        pl.Series("_own", [address_parts.get(uprn) for uprn in uprn_parts], dtype=pl.String)
    ).filter(pl.col("_own").is_not_null())
    street_only = pl.col("_own").str.replace(r"^[^|]*\|", "|")

    def one_uprn(parts: pl.Expr) -> pl.DataFrame:
        return (
            at_uprn.group_by("person_id", parts.alias("_parts"))
            .agg(pl.col("address_key").unique().alias("_uprns"))
            .filter(pl.col("_uprns").list.len() == 1)
            .select("person_id", "_parts", pl.col("_uprns").list.first().alias("_uprn"))
        )

    no_postcode = pl.col("_parts").str.starts_with("|")
    found = (
        records.join(one_uprn(pl.col("_own")), on=["person_id", "_parts"], how="left", maintain_order="left")
        .join(one_uprn(street_only), on=["person_id", "_parts"], how="left", maintain_order="left", suffix="_street")
        .with_columns(pl.when(no_postcode).then(pl.col("_uprn_street")).otherwise(pl.col("_uprn")).alias("_uprn"))
    )
    take = open_to & pl.col("_uprn").is_not_null()
    return found.with_columns(
        pl.when(take).then(pl.col("_uprn")).otherwise(key).alias("address_key"),
        pl.when(take).then(None).otherwise(pl.col("address_status")).alias("address_status"),
    ).drop("_uprn", "_uprn_street")


def _complete_town_postcodes(
    texts: list[str | None], places: list[str | None], keys: list[str | None], statuses: list[str]
) -> None:
    """In place: the key of an address written with no postcode (``A:~<town words>|<address>``)
    becomes that of the same address text with the same town words written with a postcode
    (``A:<outward>|<address>``) when the batch has it in exactly one outward code, and takes its
    status: ``6 High Ct., Brackenby`` (a police record) and ``6 HIGH COURT, BRACKENBY, TF13 4RW``
    are one address.
    """
    with_postcode: dict[tuple[str, tuple[str, ...]], set[tuple[str, str]]] = defaultdict(set)
    for text, place, key, status in zip(texts, places, keys, statuses, strict=True):
        if key is not None and text is not None and not key.startswith("A:~"):
            with_postcode[(text, tuple(_words(place)))].add((key, status))
    for i, (text, place, key) in enumerate(zip(texts, places, keys, strict=True)):
        if key is None or text is None or not key.startswith("A:~"):
            continue
        found = with_postcode.get((text, tuple(_words(place))), set())
        if len({k for k, _ in found}) == 1:
            keys[i], statuses[i] = min(found)


def _complete_postcodes(records: pl.DataFrame) -> pl.DataFrame:
    """A record with no postcode at an address with no UPRN (key ``A:~<town words>|<address>``)
    takes the key of the person's records that give the same address with a postcode
    (``A:<outward>|<address>``), when they give it in exactly one outward code: the person's
    own records say which postcode the text leaves out (``15 High Drive, Tenford`` and ``15 HIGH
    DRIVE, TENFORD, TF1 7DD`` are one home, not two).
    """
    key = pl.col("address_key")
    text = key.str.replace(r"^A:[^|]*\|", "")
    with_postcode = (
        records.filter(key.str.starts_with("A:") & ~key.str.starts_with("A:~"))
        .group_by("person_id", text.alias("_text"))
        .agg(key.unique().alias("_keys"), pl.col("address_status").first().alias("_status"))
        .filter(pl.col("_keys").list.len() == 1)
        .select("person_id", "_text", pl.col("_keys").list.first().alias("_key"), "_status")
    )
    no_postcode = key.str.starts_with("A:~")
    completed = records.with_columns(pl.when(no_postcode).then(text).alias("_text")).join(
        with_postcode, on=["person_id", "_text"], how="left", maintain_order="left"
    )
    found = pl.col("_key").is_not_null()
    return completed.with_columns(
        pl.when(found).then(pl.col("_key")).otherwise(key).alias("address_key"),
        pl.when(found).then(pl.col("_status")).otherwise(pl.col("address_status")).alias("address_status"),
    ).drop("_text", "_key", "_status")


def _recheck_flat_uprns(records: pl.DataFrame, parses: AddressParses | None = None) -> pl.DataFrame:
    """A record whose text names no flat but whose UPRN is one flat of a block (an agency's own
    UPRN: ``14 Lancaster Lane`` keyed to flat 9) takes the flat the person's records that name a
    flat in that building name, when they name exactly one and it is another: the text does not
    say which flat, and the person's own records do (``recheck_flat_uprns``).
    """
    matched = pl.col("address_key").str.starts_with("U:") & pl.col("_uprn_block").is_not_null()
    texts = records.filter(matched).select("address").unique()
    if texts.is_empty():
        return records
    named = (
        (parses or AddressParses()).parse(texts).select("address", pl.col("flat").is_not_null().alias("_names_flat"))
    )
    out = records.join(named, on="address", how="left", maintain_order="left", nulls_equal=True)
    flats = (
        out.filter(matched & pl.col("_names_flat").fill_null(False))
        .group_by("person_id", "_uprn_block")
        .agg(pl.col("address_key").unique().alias("_flats"))
        .filter(pl.col("_flats").list.len() == 1)
        .select("person_id", "_uprn_block", pl.col("_flats").list.first().alias("_named"))
    )
    out = out.join(flats, on=["person_id", "_uprn_block"], how="left", maintain_order="left")
    guessed = matched & ~pl.col("_names_flat").fill_null(True) & pl.col("_named").is_not_null()
    return out.with_columns(
        pl.when(guessed).then(pl.col("_named")).otherwise(pl.col("address_key")).alias("address_key")
    ).drop("_names_flat", "_named")


def _complete_flats(records: pl.DataFrame) -> pl.DataFrame:
    """A record written without its flat number (``14 High Street``, a block of flats: status
    ``ambiguous``) takes the flat of the person's other records in that building, when they
    name exactly one: the person's own records say which flat the text leaves out. A record
    with no postcode names its building by house number and street only. The same for a
    building the gazetteer lacks (a new-build block, status ``not_in_gazetteer``): the flat
    is the normalised address of the person's records that name one there.
    """
    street_only = pl.col("_block").str.replace(r"^[^|]*\|", "")
    uprn_records = records.filter(pl.col("_uprn_block").is_not_null()).with_columns(
        pl.col("_uprn_block").alias("_block")
    )

    def one_flat(key: pl.Expr) -> pl.DataFrame:
        return (
            uprn_records.group_by("person_id", key.alias("_match"))
            .agg(pl.col("address_key").unique().alias("_flats"))
            .filter(pl.col("_flats").list.len() == 1)
            .select("person_id", "_match", pl.col("_flats").list.first().alias("_flat_key"))
        )

    by_building, by_street = one_flat(pl.col("_block")), one_flat(street_only)
    no_postcode = pl.col("_block").str.starts_with("|")
    ambiguous = pl.col("address_status").is_in(["ambiguous", "not_in_gazetteer"]) & pl.col("_block").is_not_null()
    matched = (
        records.with_columns(pl.when(no_postcode).then(street_only).otherwise(pl.col("_block")).alias("_match"))
        .join(by_building, on=["person_id", "_match"], how="left", maintain_order="left")
        .join(by_street, on=["person_id", "_match"], how="left", maintain_order="left", suffix="_street")
        .with_columns(
            pl.when(no_postcode).then(pl.col("_flat_key_street")).otherwise(pl.col("_flat_key")).alias("_flat")
        )
    )
    found = ambiguous & pl.col("_flat").is_not_null()
    return matched.with_columns(*_take_flat(found)).drop(
        "_block", "_uprn_block", "_match", "_flat_key", "_flat_key_street", "_flat"
    )


def _take_flat(found: pl.Expr) -> list[pl.Expr]:
    """Where ``found``, the record takes the flat ``_flat``: its ``address_key``, and its
    ``address_status`` (none at a UPRN; ``not_in_gazetteer`` for a flat the gazetteer lacks).
    """
    return [
        pl.when(found).then(pl.col("_flat")).otherwise(pl.col("address_key")).alias("address_key"),
        pl.when(found & pl.col("_flat").str.starts_with("U:"))
        .then(None)
        .when(found)
        .then(pl.lit("not_in_gazetteer"))
        .otherwise(pl.col("address_status"))
        .alias("address_status"),
    ]


def _flat_from_surname(
    records: pl.DataFrame,
    roles: pl.DataFrame,
    stale_before: date | None,
    donor_roles: tuple[str, ...],
    rare_below: float | None = None,
) -> tuple[pl.DataFrame, dict[str, str]]:
    """``(records, completed)``: a person who lives at a block's flat-less address (status
    ``ambiguous``, or a block the gazetteer lacks) and none of whose records names a flat there
    takes the one flat of the block (same outward code, house number and street; a record with no
    postcode: house number and street) where people of their standardised surname live on D by
    their own records, one of them of a role in ``donor_roles`` (``roles``: ``person_id, role``).
    Their flat-less records in the building take that flat's key (and status);
    ``completed`` maps each such person to the flat (``flat_from_surname``). No such flat, or two
    or more, and they stay where they were. ``records`` need ``surname_std`` and the
    ``_flatless_block`` and ``_flat_building`` columns of :func:`address_keys`.
    """
    if "surname_std" not in records.columns or records["_flatless_block"].null_count() == records.height:
        return records, {}
    street_only = r"^[^|]*\|"
    address = resolve_address(records, stale_before)
    buildings = (
        records.filter(pl.col("_flat_building").is_not_null())
        .group_by("address_key")
        .agg(pl.col("_flat_building").min().alias("_building"))
    )
    surnames = records.filter(pl.col("surname_std").is_not_null()).select("person_id", "surname_std").unique()
    # people living in a flat of a block (by their own records), by building, and their surnames
    donor_people = roles.filter(pl.col("role").is_in(list(donor_roles))).select("person_id")
    if rare_below is not None:
        share = surnames.group_by("surname_std").agg((pl.len() / surnames["person_id"].n_unique()).alias("_share"))
        rare = (
            roles.filter(pl.col("role") == "adult")
            .join(surnames, on="person_id")
            .join(share, on="surname_std")
            .filter(pl.col("_share") < rare_below)
            .select("person_id")
        )
        donor_people = pl.concat([donor_people, rare]).unique()
    donors = (
        address.join(buildings, on="address_key").join(surnames, on="person_id").join(donor_people, on="person_id")
    ).select(pl.col("person_id").alias("_donor"), pl.col("address_key").alias("_flat"), "_building", "surname_std")
    # people living at a block's flat-less address: the building that address names
    targets = address.join(
        records.filter(pl.col("_flatless_block").is_not_null())
        .select("person_id", "address_key", pl.col("_flatless_block").alias("_target"))
        .unique(),
        on=["person_id", "address_key"],
    ).select("person_id", "_target")
    if targets.is_empty() or donors.is_empty():
        return records, {}

    def in_building(block: str, building: str) -> pl.Expr:
        """The flat-less ``block`` names ``building`` (without a postcode: by house number and street)."""
        return (
            pl.when(pl.col(block).str.starts_with("|"))
            .then(pl.col(block).str.replace(street_only, "") == pl.col(building).str.replace(street_only, ""))
            .otherwise(pl.col(block) == pl.col(building))
        )

    # a person any of whose records names a flat in that building is not completed here (their own
    # records name two flats: which one is unknown)
    own = records.filter(pl.col("_flat_building").is_not_null()).select(
        "person_id", pl.col("_flat_building").alias("_own")
    )
    own_flat = targets.join(own.unique(), on="person_id").filter(in_building("_target", "_own"))
    flats = (
        targets.join(own_flat.select("person_id", "_target").unique(), on=["person_id", "_target"], how="anti")
        .join(surnames, on="person_id")
        .join(donors, on="surname_std")
        .filter(in_building("_target", "_building") & (pl.col("_donor") != pl.col("person_id")))
        .group_by("person_id")
        .agg(pl.col("_flat").unique().alias("_flats"), pl.col("_building").first())
        .filter(pl.col("_flats").list.len() == 1)
        .select("person_id", pl.col("_flats").list.first().alias("_flat"), "_building")
    )
    if flats.is_empty():
        return records, {}
    out = records.join(flats, on="person_id", how="left", maintain_order="left")
    found = (
        pl.col("_flat").is_not_null()
        & pl.col("_flatless_block").is_not_null()
        & in_building("_flatless_block", "_building")
    )
    out = out.with_columns(*_take_flat(found)).drop("_flat", "_building")
    log.info("flat from surname: %d persons placed in the one flat of their block with their surname", flats.height)
    return out, dict(flats.select("person_id", "_flat").iter_rows())


def _by_address(records: pl.DataFrame) -> pl.DataFrame:
    """``person_id, address_key, _first, _last, _priority, record_key``: each person's
    evidence at each of their addresses.
    """
    if "_open" not in records.columns:
        records = records.with_columns(pl.lit(False).alias("_open"))
    last = max(RESIDENCE_PRIORITY.values(), default=0) + 1  # a source with no priority ranks after every other
    placed = records.filter(pl.col("address_key").is_not_null()).with_columns(
        pl.col("source").replace_strict(RESIDENCE_PRIORITY, default=last, return_dtype=pl.Int64).alias("_priority"),
        pl.col("evidence_date").fill_null(date.min),
    )
    spans = placed.group_by("person_id", "address_key").agg(
        pl.col("evidence_date").min().alias("_first"),
        pl.col("evidence_date").max().alias("_last"),
        pl.col("_priority").filter(pl.col("evidence_date") == pl.col("evidence_date").max()).min().alias("_priority"),
        pl.col("record_key").min(),
        pl.col("_open").all().alias("_only_open"),
    )
    if "_closed" not in placed.columns:
        placed = placed.with_columns(pl.lit(False).alias("_closed"))
    # an address only open records show is vouched for by the same agency's record of the person
    # at another address that has ended: the agency's live record is the address it holds since
    open_at = placed.filter("_open").select("person_id", "address_key", "source").unique()
    ended = placed.filter("_closed").select(
        "person_id", "source", pl.col("address_key").alias("_from"), pl.col("evidence_date").alias("_ended")
    )
    succeeded = (
        open_at.join(ended, on=["person_id", "source"])
        .filter(pl.col("_from") != pl.col("address_key"))
        .group_by("person_id", "address_key")
        .agg(pl.col("_ended").max())
    )
    return (
        spans.join(succeeded, on=["person_id", "address_key"], how="left")
        .with_columns(
            # an address with no UPRN that only open records show, and that no ended record of
            # the same agency vouches for, may be the one a claim was opened at years ago
            (~pl.col("address_key").str.starts_with("U:") & pl.col("_only_open") & pl.col("_ended").is_null()).alias(
                "_weak"
            ),
        )
        .drop("_only_open", "_ended")
    )


def resolve_address(
    records: pl.DataFrame, stale_before: date | None = None, by_address: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``person_id, address_key``: the address each person lives at on D (see the module docstring).

    ``records`` needs ``address_key`` (:func:`address_keys`). ``stale_before``: a person none of
    whose dated addresses has evidence on or after this day ranks their undated addresses
    (no UPRN, open records only) with the others (:attr:`HouseholdsConfig.undated_after_months`).
    ``by_address``: ``_by_address(records)`` when the caller has it already.
    """
    by_address = _by_address(records) if by_address is None else by_address
    if stale_before is not None:
        recent = (
            by_address.filter(~pl.col("_weak"))
            .group_by("person_id")
            .agg((pl.col("_last").max() >= stale_before).alias("_recent"))
        )
        by_address = by_address.join(recent, on="person_id", how="left").with_columns(
            (pl.col("_weak") & pl.col("_recent").fill_null(False)).alias("_weak")
        )
    # dated first; then first evidenced latest, then most recent evidence, then the more reliable source
    order = ["person_id", "_weak", "_first", "_last", "_priority", "record_key"]
    descending = [False, False, True, True, False, False]
    return (
        by_address.sort(order, descending=descending)
        .unique("person_id", keep="first", maintain_order=True)
        .select("person_id", "address_key")
    )


def _months_before(day: date, months: int) -> date:
    """The day ``months`` calendar months before ``day`` (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _spans(by_address: pl.DataFrame) -> dict[str, dict[str, tuple[date, date]]]:
    """Each person's first and last evidence at each of their addresses (``_by_address`` rows)."""
    spans: dict[str, dict[str, tuple[date, date]]] = defaultdict(dict)
    for person, key, first, last in by_address.select("person_id", "address_key", "_first", "_last").iter_rows():
        spans[person][key] = (first, last)
    return spans


def former_homes(records: pl.DataFrame, address: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the ``former_homes`` rule after the moved-alone rule: ``(address, flags)``.

    A person placed at B goes to A, another address of theirs, when:

    - people placed at A moved there from B: every dated record of theirs at B (open records, dated D,
      do not date a stay) is before their first dated record at A;
    - they had all left B by the person's first dated record at A;
    - no dated record of the person's since their first at A is at a third address (so there is at most
      one such A);
    - A is not ``out_of_area``.

    The person was seen with the family at A after it had left B, and B is most often the address of
    theirs first evidenced latest (so chosen): their record at B is an agency's copy of the family's
    former home (a health record, a live claim), as may be a child's school record there: a child of the
    family still placed at B does not keep the person there. ``flags``: ``former_home`` for each A a
    person went to.
    """
    dated = (
        records.filter(pl.col("address_key").is_not_null() & pl.col("evidence_date").is_not_null() & ~pl.col("_open"))
        .group_by("person_id", "address_key")
        .agg(pl.col("evidence_date").min().alias("_first"), pl.col("evidence_date").max().alias("_last"))
    )
    here = address.filter(pl.col("address_key").is_not_null()).select("person_id", pl.col("address_key").alias("_b"))
    # each person's other addresses, with their first dated record there
    elsewhere = (
        dated.join(here, on="person_id")
        .filter(pl.col("address_key") != pl.col("_b"))
        .select("person_id", "_b", pl.col("address_key").alias("_a"), pl.col("_first").alias("_first_a"))
    )
    if elsewhere.is_empty():
        return address, {}
    # people placed at A who moved there from B: their span at B ends before their first record at A
    at_home = dated.join(here, on="person_id").filter(pl.col("address_key") == pl.col("_b"))
    at_old = dated.select("person_id", pl.col("address_key").alias("_old"), pl.col("_last").alias("_left"))
    movers = (
        at_home.select("person_id", pl.col("_b").alias("_a"), pl.col("_first").alias("_came"))
        .join(at_old, on="person_id")
        .filter((pl.col("_old") != pl.col("_a")) & (pl.col("_left") < pl.col("_came")))
        .select("_a", pl.col("_old").alias("_b"), "_left")
    )
    # the person seen at a third address since their first record at A
    third = (
        elsewhere.join(dated.rename({"address_key": "_key"}), on="person_id")
        .filter(pl.col("_key").ne(pl.col("_a")) & pl.col("_key").ne(pl.col("_b")))
        .filter(pl.col("_last") >= pl.col("_first_a"))
        .select("person_id", "_a")
    )
    outside = _outside_keys(records)
    found = (
        elsewhere.join(movers, on=["_a", "_b"])
        .group_by("person_id", "_b", "_a", "_first_a")
        .agg(pl.col("_left").max())
        .filter((pl.col("_left") <= pl.col("_first_a")) & ~pl.col("_a").is_in(list(outside)))
        .join(third, on=["person_id", "_a"], how="anti")
        .select("person_id", "_a")
        .sort("person_id")
    )
    if found.is_empty():
        return address, {}
    moved = dict(found.iter_rows())
    address, flags = _move(address, moved, "former_home")
    log.info("former homes: %d persons placed with the family that left the home their record gives", len(moved))
    return address, flags


def moved_alone(
    records: pl.DataFrame,
    address: pl.DataFrame,
    roles: pl.DataFrame,
    as_of: date,
    config: HouseholdsConfig,
    by_address: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the moved-alone rule: ``(address, flags)``, the persons' addresses after it and
    the review reason of each address key it placed a family at (``by_address``:
    ``_by_address(records)`` when the caller has it already).
    """
    by_address = _by_address(records) if by_address is None else by_address
    current = dict(address.iter_rows())
    role = dict(roles.iter_rows())
    residents = _residents(current)
    # movers: a member whose newest address is not one they were at before, by old address (only a
    # person with two addresses or more can be one)
    spans = _spans(by_address.filter(pl.len().over("person_id") >= 2))
    movers: dict[str, list[tuple[str, str, date]]] = defaultdict(list)
    for person, key in sorted(current.items()):
        if key is None or len(spans[person]) < 2 or role.get(person, "unknown") not in config.mover_roles:
            continue
        new_first = spans[person][key][0]
        former = [(last, old) for old, (_, last) in spans[person].items() if old != key and last <= new_first]
        if config.lagging_sources and not former:
            # an address first seen before the new one is a former address even when an
            # agency that lags still records it after the move (as resolve_address ranks it)
            former = [(first, old) for old, (first, _) in spans[person].items() if old != key and first < new_first]
        if former:
            movers[max(former)[1]].append((person, key, new_first))
    # the rule reads the records of the movers and of the persons placed at their old and new addresses
    # only: the evidence of those alone is gathered
    involved = {person for found in movers.values() for person, _, _ in found}
    for old, found in movers.items():
        involved.update(residents.get(old, []))
        for _, new, _ in found:
            involved.update(residents.get(new, []))
    involved_ids = pl.Series("person_id", list(involved), dtype=pl.String)
    observed = records.filter(
        pl.col("evidence_date").is_not_null()
        & pl.col("address_key").is_not_null()
        & ~pl.col("_open")
        & pl.col("person_id").is_in(involved_ids.implode())
    )
    # each person's latest record from each source at each address (for lagging sources)
    latest: dict[str, list[tuple[str, str, date]]] = defaultdict(list)
    for person, key, source, last in (
        observed.group_by("person_id", "address_key", "source").agg(pl.col("evidence_date").max()).iter_rows()
    ):
        latest[person].append((key, source, last))
    seen_at = {
        (person, key): first
        for person, key, first in observed.group_by("person_id", "address_key")
        .agg(pl.col("evidence_date").min())
        .iter_rows()
    }
    spans = _spans(by_address.filter(pl.col("person_id").is_in(involved_ids.implode())))
    flags: dict[str, str] = {}
    moved = 0
    status_of = {
        key: status
        for key, status in records.filter(pl.col("address_key").str.starts_with("A:"))
        .select("address_key", "address_status")
        .unique("address_key")
        .iter_rows()
    }
    for old, found in sorted(movers.items()):
        stayed = [p for p in residents.get(old, []) if all(p != m for m, _, _ in found)]
        targets = {new for _, new, _ in found}
        if not stayed or len(targets) != 1:
            continue
        (new,) = targets
        move_date = min(when for _, _, when in found)
        # sources that still record a mover at the old address after the move lag: their
        # records of the others there since the move do not show that the others stayed
        lagging = (
            {src for m, _, _ in found for key, src, last in latest[m] if key == old and last >= move_date}
            if config.lagging_sources
            else set()
        )
        # an occupant's records at the new address since the move from a source that lags this
        # move do not show that they still live there (the feed has not heard they left either)
        ignored = lagging if config.lagging_occupants else set()
        lags_move = lagging if config.lagging_newcomers else set()
        if config.lagging_sources and status_of.get(old) == "out_of_area":
            # a family that moved in from outside the area: a school feed that records a mover
            # at the new address since the move has heard of the move for that child, and its
            # records of the others at the old address outside the area since are the address
            # it has not yet updated for them, not a sign that they stayed outside
            lagging = lagging | {
                src
                for m, _, _ in found
                for key, src, last in latest[m]
                if key == new and last >= move_date and src in config.arrival_sources
            }

        # someone first seen at the old address after every mover's last record there, and seen
        # at another address before, moved in after them (a new family): they neither keep the
        # family there nor go with it
        # (with lagging_newcomers, not counting the records of a source that lags this move: a school
        # feed that still has a mover at O months after the move is no sign the mover was still there)
        last_there = max(
            (last for m, _, _ in found for key, src, last in latest[m] if key == old and src not in lags_move),
            default=move_date,
        )

        def newcomer(person: str, old: str = old, last_there: date = last_there) -> bool:
            arrived = seen_at.get((person, old))
            if arrived is None:
                # only open records place them at the old address: seen living elsewhere after the
                # movers' last record there, they came since (undated_arrivals)
                return config.undated_arrivals and any(
                    key != old and last > last_there for key, _, last in latest[person]
                )
            return arrived > last_there and any(
                first < arrived for key, (first, _) in spans[person].items() if key != old
            )

        arrivals = [p for p in stayed if newcomer(p)]
        stayed = [p for p in stayed if p not in arrivals]
        # a family that moved in since has the home: the others' records there from before the first
        # of them came do not show that the others still live there, and someone seen there before
        # they came lived there before them (newcomers_vacate)
        came = [seen_at[(p, old)] for p in arrivals if (p, old) in seen_at]
        vacated = max(move_date, min(came)) if came and config.newcomers_vacate else move_date

        def first_seen_after(
            person: str,
            old: str = old,
            since: date = max(move_date, last_there),
            vacated: date = vacated,
            lagging: set[str] = lagging,
        ) -> bool:
            # first seen anywhere after the move (and after the newcomers came, if any did), at the
            # old address, by a source that does not lag the move: nothing shows they lived there with
            # the movers (first_seen_after_move); seen there only by a feed that lags the move, they
            # are of the family it has not updated
            arrived = seen_at.get((person, old))
            return (
                config.first_seen_after_move
                and arrived is not None
                and arrived > since
                and arrived >= vacated
                and all(first >= arrived for first, _ in spans[person].values())
                and any(key == old and src not in lagging for key, src, _ in latest[person])
            )

        late = [p for p in stayed if first_seen_after(p)]
        stayed = [p for p in stayed if p not in late]

        def seen_since(
            person: str,
            old: str = old,
            lagging: set[str] = lagging,
            move_date: date = move_date,
            vacated: date = vacated,
        ) -> bool:
            return any(
                last >= (vacated if key == old else move_date) and not (key == old and src in lagging)
                for key, src, last in latest[person]
            )

        if arrivals and config.undated_with_newcomers:
            # a new family lives at the old address: someone only an open record places there (an
            # agency holds the address now; nobody saw them there) may be one of the new family
            stayed = [p for p in stayed if (p, old) in seen_at]
        if not stayed:
            continue
        if any(seen_since(p) or new in spans[p] for p in stayed):
            continue  # someone was seen since the move, or the family has been at both

        def occupant(person: str, new: str = new, move_date: date = move_date, ignored: set[str] = ignored) -> bool:
            return seen_at.get((person, new), move_date) < move_date and any(
                key == new and last >= move_date and src not in ignored for key, src, last in latest[person]
            )

        if any(occupant(p) for p in residents.get(new, []) if all(p != m for m, _, _ in found)):
            continue  # someone of another family lived at the new address before the move and still does
        if not any(seen_at.get((p, old), vacated) < vacated for p in stayed):
            continue  # nobody who stayed was seen at the old address before the move (or the newcomers)
        moved += len(stayed)
        if config.moved_alone == "move_together":
            for person in stayed:
                current[person] = new
            flags[new] = "moved_together"
        elif config.moved_alone == "keep_together":
            for person, _, _ in found:
                current[person] = old
            flags[old] = "kept_together"
        else:
            flags[new] = "moved_alone"
    if flags:
        log.info(
            "moved alone: %d families (%d members not seen since the move): %s", len(flags), moved, config.moved_alone
        )
    return _address_frame(current), flags


def _residents(current: Mapping[str, str | None]) -> dict[str, list[str]]:
    """The people placed at each address key (``current``: person to address key, or None)."""
    residents: dict[str, list[str]] = defaultdict(list)
    for person, key in current.items():
        if key is not None:
            residents[key].append(person)
    return residents


def _address_frame(current: Mapping[str, str | None]) -> pl.DataFrame:
    """``person_id, address_key``: each person's address, as the households rules pass it on."""
    return pl.DataFrame(
        {"person_id": list(current), "address_key": list(current.values())},
        schema={"person_id": pl.String, "address_key": pl.String},
    )


def stale_claims(
    records: pl.DataFrame,
    address: pl.DataFrame,
    roles: pl.DataFrame,
    config: HouseholdsConfig,
    opened: pl.DataFrame | None,
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the ``stale_claims`` rule after the moved-alone rule: ``(address, flags)``.

    A person P placed at O, where P has an open record of a ``stale_claims`` source (a live
    benefit claim, dated D) opened on S (``opened``: :func:`open_record_starts`), is placed at N
    when P's own latest dated record (not an open one) is at N alone and dated after S; at least one
    child placed at N was seen at O (a dated record) before they were first seen at N (the children
    left O for N); and no child placed at O was seen there: the family's children all left.
    A parent who stayed, with no record of their own at N since the claim was opened, stays at O.
    ``flags``: ``stale_claim`` for each address someone was placed at, unless the moved-alone rule
    flagged it already.
    """
    sources = list(config.stale_claims)
    if not sources or opened is None or opened.is_empty():
        return address, {}
    claims = (
        records.filter(pl.col("_open") & pl.col("source").is_in(sources) & pl.col("address_key").is_not_null())
        .join(opened, on="record_key", how="inner")
        .group_by("person_id", "address_key")
        .agg(pl.col("opened").max())
    )
    current = dict(address.iter_rows())
    claimed = {person: (key, start) for person, key, start in claims.iter_rows() if current.get(person) == key}
    if not claimed:
        return address, {}
    role = dict(roles.iter_rows())
    dated = records.filter(
        pl.col("evidence_date").is_not_null() & pl.col("address_key").is_not_null() & ~pl.col("_open")
    )
    # each claimant's latest dated record: the address of their newest own sighting
    latest = (
        dated.filter(pl.col("person_id").is_in(list(claimed)))
        .filter(pl.col("evidence_date") == pl.col("evidence_date").max().over("person_id"))
        .group_by("person_id")
        .agg(pl.col("address_key").unique().alias("_keys"), pl.col("evidence_date").first().alias("_when"))
    )
    moves: dict[str, tuple[str, str]] = {}
    for person, keys, when in latest.iter_rows():
        old, start = claimed[person]
        if len(keys) == 1 and keys[0] != old and when > start:
            moves[person] = (old, keys[0])
    if not moves:
        return address, {}
    children = {p for p, r in role.items() if r == "child"}
    places = {key for pair in moves.values() for key in pair}
    spans: dict[tuple[str, str], tuple[date, date]] = {
        (person, key): (first, last)
        for person, key, first, last in dated.filter(
            pl.col("person_id").is_in(list(children)) & pl.col("address_key").is_in(list(places))
        )
        .group_by("person_id", "address_key")
        .agg(pl.col("evidence_date").min().alias("_first"), pl.col("evidence_date").max().alias("_last"))
        .iter_rows()
    }
    firsts: dict[tuple[str, str], date] = {
        (person, key): first
        for person, key, first in records.filter(
            pl.col("person_id").is_in(list(children)) & pl.col("address_key").is_in(list(places))
        )
        .group_by("person_id", "address_key")
        .agg(pl.col("evidence_date").min())
        .iter_rows()
        if first is not None
    }
    placed_at: dict[str, list[str]] = defaultdict(list)
    for person in children:
        if current.get(person) in places:
            placed_at[current[person]].append(person)
    flags: dict[str, str] = {}
    placed = 0
    for person, (old, new) in sorted(moves.items()):
        left = [
            child
            for child in placed_at.get(new, [])
            if (child, old) in spans and spans[(child, old)][0] < firsts.get((child, new), date.max)
        ]
        stayed = [child for child in placed_at.get(old, []) if (child, old) in spans]
        if not left or stayed:
            continue
        current[person] = new
        flags[new] = "stale_claim"
        placed += 1
    if placed:
        log.info("stale claims: %d persons placed where the children moved (%d households)", placed, len(flags))
    return _address_frame(current), flags


def lone_children(
    records: pl.DataFrame,
    address: pl.DataFrame,
    roles: pl.DataFrame,
    *,
    with_adults: bool = False,
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the ``lone_children`` rule (or, ``with_adults``, the ``left_behind`` rule) after
    ``stale_claims``: ``(address, flags)``.

    The movers: for an address N where only children are placed, every one of them seen at O (a
    dated record, not an open one) before they were first seen at N, all from one O (a child at N
    before them has an adult there the records do not show). ``with_adults``: N needs a child, not
    only children; everyone placed at N is a mover from O, or was placed there by an earlier rule
    with no dated record at N and dated records only at O (a parent the moved-alone rule took
    along), or has no dated record at all (only an open one: it says where an agency writes, not
    from where), or was first seen anywhere at N, on or after the move (a baby, a first record).
    The move date is the earliest of the movers' first records at N.

    The family at O is the people placed at O who were seen there (a dated record) before the move
    date: someone first seen there since came after the children left and stays, and so does
    someone only an open record places there (a live claim says where DWP writes now, not since
    when). ``with_adults`` adds the people placed at O all of whose records (open ones too) are at
    O, none dated before the move, who share a standardised surname with someone at N: a parent, or a
    child, whose agencies have written nothing since the move but the old address (a newcomer to O
    rarely shares the leavers' surname). The family's adults, and ``with_adults`` those children it
    added, are placed at N when:

    - the family has an adult and no child seen at O before the move (a child of the home stayed:
      the family split); ``with_adults``: nor is another child whose every dated record is at O
      left there;
    - no record of theirs at O dated on or after the move date comes from a source with a dated
      record of one of the people at N there on or after the move date: such a source has heard of
      the move, and its record at O says they stayed.

    Everyone of the family goes, or nobody does. ``flags``: ``lone_children`` for each address
    someone was placed at where only children were, ``left_behind`` for the others (an earlier
    rule's flag is kept by the caller).
    """
    current = dict(address.iter_rows())
    role = dict(roles.iter_rows())
    by_place = _residents(current)
    children = {p for p, r in role.items() if r == "child"}
    alone = {
        key: people
        for key, people in by_place.items()
        if (any(p in children for p in people) if with_adults else all(p in children for p in people))
    }
    if not alone:
        return address, {}
    dated = records.filter(
        pl.col("evidence_date").is_not_null() & pl.col("address_key").is_not_null() & ~pl.col("_open")
    ).select("person_id", "address_key", "source", "evidence_date")
    # each person's first dated record at each address (the people at N, everyone at O)
    first_seen = dated.group_by("person_id", "address_key").agg(pl.col("evidence_date").min())
    firsts: dict[str, dict[str, date]] = defaultdict(dict)
    for person, key, first in first_seen.filter(
        pl.col("person_id").is_in([p for people in alone.values() for p in people])
    ).iter_rows():
        firsts[person][key] = first
    moves: dict[str, tuple[str, date, list[str]]] = {}  # N -> (O, move date, people at N)
    for new, people in alone.items():
        move = _move_to(new, people, firsts, by_place, with_adults=with_adults)
        if move is not None:
            moves[new] = (*move, people)
    if not moves:
        return address, {}
    olds = sorted({old for old, _, _ in moves.values()})
    earliest: dict[tuple[str, str], date] = {
        (person, key): first for person, key, first in first_seen.filter(pl.col("address_key").is_in(olds)).iter_rows()
    }
    lagging = _lagging_family(records, moves, by_place) if with_adults else {}
    # every dated record at the addresses the moves involve, by address: (person, source, date)
    involved = sorted({*olds, *moves})
    seen_at: dict[str, list[tuple[str, str, date]]] = defaultdict(list)
    for person, key, source, day in dated.filter(pl.col("address_key").is_in(involved)).iter_rows():
        seen_at[key].append((person, source, day))
    only_at: dict[str, set[str]] = defaultdict(set)  # O -> the people every dated record of whom is at O
    if with_adults:
        for person, keys in (
            dated.filter(pl.col("person_id").is_in([p for old in olds for p in by_place[old]]))
            .group_by("person_id")
            .agg(pl.col("address_key").unique())
            .iter_rows()
        ):
            if len(keys) == 1:
                only_at[keys[0]].add(person)
    flags: dict[str, str] = {}
    placed = 0
    taken: set[str] = set()
    for new, (old, when, movers) in sorted(moves.items()):
        if old in taken:
            continue
        family = [p for p in by_place[old] if earliest.get((p, old), date.max) < when]
        late = lagging.get(new, set()) - set(family)  # every record at O, all since the move: of the family
        adults = [p for p in [*family, *sorted(late)] if role.get(p) == "adult"]
        if not adults or any(role.get(p) == "child" for p in family):
            continue  # no adult lived there with the children, or a child of the home stayed
        if with_adults and any(
            role.get(p) == "child" and p in only_at.get(old, ()) and p not in late for p in by_place[old]
        ):
            continue  # a child no record shows anywhere else, not of the family's surname, is still there
        going = [*adults, *sorted(p for p in late if role.get(p) != "adult")]
        at_new = set(movers)
        heard = {source for person, source, day in seen_at[new] if person in at_new and day >= when}
        if any(person in going and day >= when and source in heard for person, source, day in seen_at[old]):
            continue  # a source that has seen the move still records one of them at O: they stayed
        for person in going:
            current[person] = new
        taken.add(old)
        flags[new] = "lone_children" if all(role.get(p) == "child" for p in movers) else "left_behind"
        placed += len(going)
    if placed:
        log.info("left behind: %d persons placed where the children moved (%d households)", placed, len(flags))
    return _address_frame(current), flags


def children_rejoin(
    records: pl.DataFrame, address: pl.DataFrame, roles: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the ``children_rejoin`` rule, after every other: ``(address, flags)``.

    A child placed at an address N where nobody placed is an adult or of unknown age goes back to the
    home O they were seen at before N: of the addresses where the child has a dated record (not an open
    one) first dated before their first dated record at N, the one with the latest record (two with the
    same latest date: the child stays). The child goes when an adult is placed at O who was seen there
    (a dated record) before the child's first record at N, or every record of whom (open ones too) is at
    O and who shares a standardised surname with the child (a parent whose agencies have written nothing
    but the old address) or was first seen there (a dated record) on or before the child's last dated
    record at O (the child's own agencies still had them both at O: someone first seen there after the
    child's last record there may have moved in since), this last tie only when nobody placed at O was
    first seen there after the child's first record at N having been seen elsewhere before (a family
    that moved in since). Not when O is ``out_of_area``: the child's newest records place the family in
    the area (they moved in), and the adults' records there lag.

    Each child is read on their own; ``flags``: ``children_rejoined`` for each O a child went to.
    """
    placed = address.join(roles, on="person_id", how="left").filter(pl.col("address_key").is_not_null())
    alone = (placed.group_by("address_key").agg((pl.col("role") == "child").all().alias("alone")).filter("alone"))[
        "address_key"
    ]
    kids = placed.filter(pl.col("address_key").is_in(alone.implode())).select("person_id", "address_key")
    if kids.is_empty():
        return address, {}
    dated = records.filter(
        pl.col("evidence_date").is_not_null() & pl.col("address_key").is_not_null() & ~pl.col("_open")
    )
    seen = _first_last(dated, kids["person_id"])  # person -> address -> (first, last)
    homes: dict[str, tuple[str, date]] = {}  # child -> (O, first record at N)
    for child, new in kids.iter_rows():
        arrived = seen[child].get(new, (None, None))[0]
        if arrived is None:
            continue  # only an open record places them at N
        before = sorted(
            ((last, key) for key, (first, last) in seen[child].items() if key != new and first < arrived),
            reverse=True,
        )
        if before and (len(before) == 1 or before[0][0] != before[1][0]):
            homes[child] = (before[0][1], arrived)
    if not homes:
        return address, {}
    olds = {old for old, _ in homes.values()}
    adults_at: dict[str, list[str]] = defaultdict(list)
    for person, key in (
        placed.filter(pl.col("address_key").is_in(list(olds)) & (pl.col("role") == "adult"))
        .select("person_id", "address_key")
        .iter_rows()
    ):
        adults_at[key].append(person)
    adults = [p for people in adults_at.values() for p in people]
    residents_at: dict[str, list[str]] = defaultdict(list)
    for person, key in (
        placed.filter(pl.col("address_key").is_in(list(olds))).select("person_id", "address_key").iter_rows()
    ):
        residents_at[key].append(person)
    seen.update(_first_last(dated, [p for people in residents_at.values() for p in people]))
    mine = records.filter(pl.col("person_id").is_in([*adults, *homes]))
    keys_of: dict[str, set[str]] = defaultdict(set)
    for person, key in mine.select("person_id", "address_key").drop_nulls().unique().iter_rows():
        keys_of[person].add(key)
    surnames: dict[str, set[str]] = defaultdict(set)
    if "surname_std" in records.columns:
        for person, name in mine.select("person_id", "surname_std").drop_nulls().unique().iter_rows():
            surnames[person].add(name)
    outside = set(
        records.filter(pl.col("address_key").is_in(list(olds)) & (pl.col("address_status") == "out_of_area"))[
            "address_key"
        ].unique()
    )

    def came_since(person: str, old: str, arrived: date) -> bool:
        """First seen at ``old`` after the child's first record at N, and elsewhere before that."""
        first = seen[person].get(old, (None, None))[0]
        return (
            first is not None
            and first > arrived
            and any(key != old and since < first for key, (since, _) in seen[person].items())
        )

    moved: dict[str, str] = {}
    for child, (old, arrived) in sorted(homes.items()):
        # someone placed at O came from elsewhere since the child left: another family may have moved in
        newcomers = any(came_since(p, old, arrived) for p in residents_at.get(old, []))
        if old not in outside and any(
            seen[p].get(old, (date.max, date.max))[0] < arrived
            or (keys_of[p] == {old} and bool(surnames[p] & surnames[child]))
            or (
                keys_of[p] == {old}
                and not newcomers
                and seen[p].get(old, (date.max, date.max))[0] <= seen[child][old][1]
            )
            for p in adults_at.get(old, [])
        ):
            moved[child] = old
    if not moved:
        return address, {}
    address, flags = _move(address, moved, "children_rejoined")
    log.info("children rejoined: %d children placed back at their last home (%d households)", len(moved), len(flags))
    return address, flags


def _outside_keys(records: pl.DataFrame) -> set[str]:
    """The address keys the records place ``out_of_area``."""
    return set(records.filter(pl.col("address_status") == "out_of_area")["address_key"].drop_nulls().unique().to_list())


def _move(address: pl.DataFrame, moved: Mapping[str, str], reason: str) -> tuple[pl.DataFrame, dict[str, str]]:
    """``address`` with each person of ``moved`` at the address it gives, and ``reason`` for each of
    those addresses (a rule's ``flags``).
    """
    return address.with_columns(
        pl.col("person_id")
        .replace_strict(moved, default=pl.col("address_key"), return_dtype=pl.String)
        .alias("address_key")
    ), dict.fromkeys(sorted(set(moved.values())), reason)


def unseen_homes(records: pl.DataFrame, address: pl.DataFrame, own: pl.DataFrame) -> pl.DataFrame:
    """Apply the ``unseen_homes`` rule: ``address`` with the people of each address at which no record
    of anyone placed there is (open records count: they give it) placed at their ``own`` address
    (``person_id, address_key``: where their own records put them, before any rule).

    Every rule places a person with someone whose records give the address, but a later rule may take
    that someone away: the people it leaves are placed on nobody's word, and go back to their own.
    """
    placed = address.filter(pl.col("address_key").is_not_null())
    seen = (
        records.select("person_id", "address_key")
        .join(placed, on=["person_id", "address_key"], how="semi")
        .select("address_key")
        .unique()
    )
    unseen = placed.join(seen, on="address_key", how="anti")
    if unseen.is_empty():
        return address
    back = dict(unseen.select("person_id").join(own, on="person_id").iter_rows())
    log.info("unseen homes: %d persons placed where no record of their household is, back at their own", len(back))
    return _move(address, back, "")[0]


def children_follow(
    records: pl.DataFrame, address: pl.DataFrame, roles: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the ``children_follow`` rule, after ``children_rejoin``: ``(address, flags)``.

    A child placed at an address O where nobody placed is an adult or of unknown age, every record of
    whom that gives an address (open ones too) is at O, goes to the address N where the adults seen at O
    up to the child's last record there (a dated record at O on or before it: the child's first record
    there is only when an agency in the extract first wrote it) are now placed: all of them at one N,
    not ``out_of_area``. The mirror of ``children_rejoin``: there the child's records moved and the
    adults' did not; here the adults' records moved and the child's agencies still give the old home. O
    may be ``out_of_area`` (the adults' records moved into the area).

    ``flags``: ``children_followed`` for each N a child went to.
    """
    placed = address.join(roles, on="person_id", how="left").filter(pl.col("address_key").is_not_null())
    alone = (placed.group_by("address_key").agg((pl.col("role") == "child").all().alias("alone")).filter("alone"))[
        "address_key"
    ]
    if alone.is_empty():
        return address, {}
    kids = placed.filter(pl.col("address_key").is_in(alone.implode())).select("person_id", "address_key")
    mine = records.filter(pl.col("person_id").is_in(kids["person_id"].implode()))
    # the child's last record at O (open records too, dated D), when every record of theirs is there
    spans = (
        mine.group_by("person_id")
        .agg(
            pl.col("address_key").drop_nulls().n_unique().alias("_keys"),
            pl.col("address_key").drop_nulls().first().alias("_only"),
            pl.col("evidence_date").filter(pl.col("address_key").is_not_null()).max().alias("_to"),
        )
        .join(kids, on="person_id")
        # placed where their records are (not moved there by an earlier rule)
        .filter((pl.col("_keys") == 1) & (pl.col("_only") == pl.col("address_key")))
        .drop("_keys", "_only")
    )
    if spans.is_empty():
        return address, {}
    dated = records.filter(
        pl.col("evidence_date").is_not_null()
        & pl.col("address_key").is_in(spans["address_key"].implode())
        & ~pl.col("_open")
    )
    adults = placed.filter(pl.col("role") == "adult").select("person_id", pl.col("address_key").alias("_now"))
    there = (
        dated.join(adults, on="person_id")
        .filter(pl.col("_now") != pl.col("address_key"))
        .group_by("person_id", "address_key", "_now")
        .agg(pl.col("evidence_date").min().alias("_first"))
    )
    outside = _outside_keys(records)
    together = (
        spans.join(there, on="address_key", suffix="_adult")
        .filter(pl.col("_first") <= pl.col("_to"))
        .group_by("person_id")
        .agg(pl.col("_now").unique().alias("_to_keys"))
        .filter(pl.col("_to_keys").list.len() == 1)
        .select("person_id", pl.col("_to_keys").list.first().alias("_new"))
        .filter(~pl.col("_new").is_in(list(outside)))
        .sort("person_id")
    )
    if together.is_empty():
        return address, {}
    moved = dict(together.iter_rows())
    address, flags = _move(address, moved, "children_followed")
    log.info(
        "children followed: %d children placed with the adults of their home (%d households)",
        len(moved),
        len(flags),
    )
    return address, flags


def moved_in(records: pl.DataFrame, address: pl.DataFrame, roles: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the ``moved_in`` rule, after ``children_follow``: ``(address, flags)``.

    An adult placed at an ``out_of_area`` address O goes to the address N in the area where only
    children are placed, when the adult has a dated record (not an open one) at N and one of those
    children was first recorded at O before their first record at N (dated records): the family moved
    into the area, the child's agencies and one of the adult's recorded it, and the adult's latest
    record still gives the home outside. Two such N: the adult stays. ``flags``: ``moved_in`` for each
    N an adult went to.
    """
    placed = address.join(roles, on="person_id", how="left").filter(pl.col("address_key").is_not_null())
    outside = _outside_keys(records)
    adults = placed.filter((pl.col("role") == "adult") & pl.col("address_key").is_in(list(outside)))
    if adults.is_empty():
        return address, {}
    alone = (
        placed.filter(~pl.col("address_key").is_in(list(outside)))
        .group_by("address_key")
        .agg((pl.col("role") == "child").all().alias("alone"))
        .filter("alone")["address_key"]
    )
    if alone.is_empty():
        return address, {}
    kids = placed.filter(pl.col("address_key").is_in(alone.implode())).select(
        "person_id", pl.col("address_key").alias("_n")
    )
    dated = records.filter(
        pl.col("evidence_date").is_not_null() & pl.col("address_key").is_not_null() & ~pl.col("_open")
    ).select("person_id", "address_key", "evidence_date")
    # adult at O with a dated record at N (the join below keeps the N where only children are placed)
    seen_at_n = (
        dated.join(adults.select("person_id", pl.col("address_key").alias("_o")), on="person_id")
        .select("person_id", "_o", pl.col("address_key").alias("_n"))
        .unique()
    )
    # ... one of whom came from O: first recorded at O before their first record at N (not a family
    # that moved out of the area, whose children's first records are at N)
    firsts = (
        dated.join(kids, on="person_id")
        .group_by("person_id", "address_key", "_n")
        .agg(pl.col("evidence_date").min().alias("_first"))
    )
    at_n = firsts.filter(pl.col("address_key") == pl.col("_n")).select("person_id", pl.col("_first").alias("_at_n"))
    kids_at_o = (
        firsts.filter(pl.col("address_key") != pl.col("_n"))
        .join(at_n, on="person_id")
        .filter(pl.col("_first") < pl.col("_at_n"))
        .select(pl.col("address_key").alias("_o"), "_n")
        .unique()
    )
    going = (
        seen_at_n.join(kids_at_o, on=["_o", "_n"])
        .group_by("person_id")
        .agg(pl.col("_n").unique().alias("_ns"))
        .filter(pl.col("_ns").list.len() == 1)
        .select("person_id", pl.col("_ns").list.first())
        .sort("person_id")
    )
    if going.is_empty():
        return address, {}
    moved = dict(going.iter_rows())
    address, flags = _move(address, moved, "moved_in")
    log.info("moved in: %d adults placed with children in the area (%d households)", len(moved), len(flags))
    return address, flags


def postcode_only(
    records: pl.DataFrame,
    address: pl.DataFrame,
    rare_below: float | None = 0.01,
    incident_sources: Iterable[str] = ("domestic_abuse",),
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Apply the ``postcode_only`` rule, after every other: ``(address, flags)``.

    A person no record of whom places them (no address text: an agency that keyed only the
    postcode) joins the one address, among those a record (anyone's) at which gives one of their
    full postcodes, that is tied to them:

    - **an incident**: a record of theirs from one of ``incident_sources`` has the date and postcode
      of a record of the same source of someone placed there (a child present at a domestic abuse
      incident, recorded with the parent the police found at home), or
    - **a surname**: someone placed there shares one of their standardised surnames, and fewer than
      ``rare_below`` of the batch's people have that surname (None: any surname).

    Two tied addresses, or none, and they stay unplaced. Only a full UK postcode (a unit of some
    fifteen addresses) ties anyone: a ``postcode_std`` that is not one (a harness's zip code) counts as
    none. ``flags``: ``postcode_only`` for each address someone joined.
    """
    placed = address.filter(pl.col("address_key").is_not_null())
    unplaced = (
        records.join(placed.select("person_id"), on="person_id", how="anti")
        .with_columns(postcode_expr(pl.col("postcode_std")).alias("postcode_std"))
        .filter(pl.col("postcode_std").is_not_null())
    )
    if unplaced.is_empty():
        return address, {}
    codes = unplaced["postcode_std"].unique().implode()
    # each placed address and the full postcodes (of the unplaced people's) its records give
    postcodes = (
        records.filter(pl.col("address_key").is_not_null() & pl.col("postcode_std").is_in(codes))
        .select("address_key", "postcode_std")
        .unique()
        .join(placed.select("address_key").unique(), on="address_key")
    )
    sources = list(incident_sources)
    incident = (
        unplaced.filter(pl.col("source").is_in(sources) & pl.col("evidence_date").is_not_null())
        .select("person_id", "source", "evidence_date", "postcode_std")
        .join(
            records.filter(pl.col("source").is_in(sources) & pl.col("postcode_std").is_in(codes))
            .join(placed, on="person_id", suffix="_placed")
            .select("source", "evidence_date", "postcode_std", pl.col("address_key_placed").alias("address_key")),
            on=["source", "evidence_date", "postcode_std"],
        )
        .join(postcodes, on=["address_key", "postcode_std"])
        .select("person_id", "address_key")
    )
    ties = [incident]
    if "surname_std" in records.columns:
        named = records.filter(pl.col("surname_std").is_not_null())
        wanted = unplaced.filter(pl.col("surname_std").is_not_null()).select("person_id", "postcode_std", "surname_std")
        people = (
            named.filter(pl.col("surname_std").is_in(wanted["surname_std"].unique().implode()))
            .select("person_id", "surname_std")
            .unique()
        )
        everyone = max(named["person_id"].n_unique(), 1)
        share = people.group_by("surname_std").agg((pl.len() / everyone).alias("_share"))
        names = people.join(placed, on="person_id").select("address_key", "surname_std").unique()
        surname = (
            wanted.unique()
            .join(postcodes, on="postcode_std")
            .join(names, on=["address_key", "surname_std"])
            .join(share, on="surname_std")
            .filter(pl.lit(rare_below is None) | (pl.col("_share") < (rare_below or 1.0)))
            .select("person_id", "address_key")
        )
        ties.append(surname)
    found = (
        pl.concat(ties)
        .group_by("person_id")
        .agg(pl.col("address_key").unique().alias("_tied"))
        .filter(pl.col("_tied").list.len() == 1)
        .select("person_id", pl.col("_tied").list.first().alias("address_key"))
        .sort("person_id")
    )
    if found.is_empty():
        return address, {}
    flags = dict.fromkeys(sorted(set(found["address_key"])), "postcode_only")
    log.info("postcode only: %d persons with no address text placed (%d households)", found.height, len(flags))
    return pl.concat([address.join(found.select("person_id"), on="person_id", how="anti"), found]), flags


def _first_last(dated: pl.DataFrame, people: Iterable[str]) -> dict[str, dict[str, tuple[date, date]]]:
    """For each of ``people``: each address of their dated records -> (first, last) record date there."""
    seen: dict[str, dict[str, tuple[date, date]]] = defaultdict(dict)
    for person, key, first, last in (
        dated.filter(pl.col("person_id").is_in(pl.Series(list(people), dtype=pl.String).implode()))
        .group_by("person_id", "address_key")
        .agg(pl.col("evidence_date").min().alias("first"), pl.col("evidence_date").max().alias("last"))
        .iter_rows()
    ):
        seen[person][key] = (first, last)
    return seen


def _move_to(
    new: str,
    people: list[str],
    firsts: Mapping[str, Mapping[str, date]],
    by_place: Mapping[str, list[str]],
    *,
    with_adults: bool,
) -> tuple[str, date] | None:
    """``(O, move date)`` when the ``people`` placed at ``new`` moved there from one O (the rules
    of :func:`lone_children`), else None. ``firsts``: each person's first dated record at each
    address.
    """
    origins: dict[str, date] = {}
    late: list[date] = []  # first seen anywhere at N: they came with the movers or after them
    for person in people:
        seen = firsts.get(person, {})
        arrived = seen.get(new)
        before = {
            key for key, first in seen.items() if key != new and key in by_place and first < (arrived or date.max)
        }
        if with_adults and arrived is None:
            if not seen:
                continue  # only an open record places them at N
            if len(before) != 1:
                return None
            origins.setdefault(next(iter(before)), date.max)  # placed at N by an earlier rule
            continue
        if with_adults and arrived is not None and set(seen) == {new}:
            late.append(arrived)
            continue
        if arrived is None or len(before) != 1:
            return None
        (old,) = before
        origins[old] = min(arrived, origins.get(old, date.max))
    if len(origins) != 1:
        return None
    ((old, when),) = origins.items()
    if when == date.max or any(day < when for day in late):
        return None  # no mover has a record at N, or someone was at N before the movers came
    return old, when


def _lagging_family(
    records: pl.DataFrame,
    moves: Mapping[str, tuple[str, date, list[str]]],
    by_place: Mapping[str, list[str]],
) -> dict[str, set[str]]:
    """For each N of ``moves``: the people placed at its O every record of whom (open ones too) is at
    O and who share a standardised surname with someone placed at N (the caller takes those seen at O
    before the move as the family already).
    """
    if "surname_std" not in records.columns:
        return {}
    near = {p for old, _, people in moves.values() for p in [*by_place[old], *people]}
    mine = records.filter(pl.col("person_id").is_in(list(near)))
    keys_of: dict[str, set[str]] = defaultdict(set)
    surnames: dict[str, set[str]] = defaultdict(set)
    for person, key, surname in mine.select("person_id", "address_key", "surname_std").iter_rows():
        if key is not None:
            keys_of[person].add(key)
        if surname:
            surnames[person].add(surname)
    lagging: dict[str, set[str]] = {}
    for new, (old, _, people) in moves.items():
        names = {name for p in people for name in surnames[p]}
        lagging[new] = {p for p in by_place[old] if keys_of[p] == {old} and surnames[p] & names}
    return lagging


def _household_address(records: pl.DataFrame, gazetteer: pl.DataFrame | None) -> pl.DataFrame:
    """``address_key, address, postcode`` for every address key: the gazetteer's text for a
    UPRN when given, else the commonest text among the records at it (exact matches first).
    """
    rank = pl.when(pl.col("address_match") == "exact").then(0).when(pl.col("address_match") == "normalised").then(1)
    candidates = records.filter(pl.col("address_key").is_not_null() & pl.col("address").is_not_null()).with_columns(
        rank.otherwise(2).alias("_rank")
    )
    address = (
        candidates.group_by("address_key", "address")
        .agg(pl.col("_rank").min(), pl.len().alias("_n"))
        .sort(["address_key", "_rank", "_n", "address"], descending=[False, False, True, False])
        .unique("address_key", keep="first", maintain_order=True)
    )
    postcode = (
        records.filter(pl.col("address_key").is_not_null() & pl.col("postcode_std").is_not_null())
        .group_by("address_key", "postcode_std")
        .len()
        .sort(["address_key", "len", "postcode_std"], descending=[False, True, False])
        .unique("address_key", keep="first", maintain_order=True)
    )
    texts = address.select("address_key", "address").join(
        postcode.select("address_key", pl.col("postcode_std").alias("postcode")),
        on="address_key",
        how="full",
        coalesce=True,
    )
    if gazetteer is None:
        return texts
    lines = [c for c in ("address_line_1", "address_line_2", "address_line_3", "town") if c in gazetteer.columns]
    official = gazetteer.select(
        (pl.lit("U:") + pl.col("uprn").cast(pl.Int64, strict=False).cast(pl.String)).alias("address_key"),
        pl.concat_str([pl.col(c) for c in lines], separator=", ", ignore_nulls=True).alias("address"),
        pl.col("postcode").alias("postcode"),
    ).unique("address_key", keep="first")
    return pl.concat([official, texts.join(official, on="address_key", how="anti")], how="vertical_relaxed")


def assign_households(
    records: pl.DataFrame,
    person_index: pl.DataFrame,
    as_of: date,
    gazetteer: pl.DataFrame | None = None,
    config: HouseholdsConfig | None = None,
    parses: AddressParses | None = None,
    opened: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Place every person at an address on ``as_of`` and group them into households.

    ``records`` is the matched persons frame (``match_addresses`` output),
    ``person_index`` maps ``record_key`` to ``person_id``. ``gazetteer``, when given,
    supplies the households' address text and judges why an address has no UPRN;
    ``config`` defaults to :class:`HouseholdsConfig`'s defaults. ``parses`` parses the address
    texts, reusing the previous run's parses of the same texts in an incremental month
    (:mod:`tfident.households.incremental`); the result is the same. ``opened``: when each open
    record was opened (:func:`open_record_starts` of the batch's extracts), for the ``stale_claims``
    rule; without it that rule places nobody.

    Returns ``(residents, households)``: ``residents`` has ``person_id, household_id,
    uprn, role, date_of_birth`` (one row per person, sorted by ``person_id``; role by
    age at ``as_of``: ``adult`` 18 or over, ``child`` under 18, ``unknown`` without a
    date of birth); ``households`` has ``household_id, uprn, address, postcode,
    n_members, address_status, review_reason`` (sorted by ``household_id``).
    """
    config = config or HouseholdsConfig()
    if "postcode_std" not in records.columns:
        records = records.with_columns(postcode_expr(pl.col("postcode")).alias("postcode_std"))
    linked = address_keys(
        records.join(person_index.select("record_key", "person_id"), on="record_key", how="inner"),
        gazetteer,
        complete_postcodes=config.complete_postcodes,
        recheck_flat_uprns=config.recheck_flat_uprns,
        parses=parses,
        flat_from_surname=config.flat_from_surname,
        duplicate_uprns_as_text=config.duplicate_uprns_as_text,
        own_uprns=config.own_uprns,
    )
    linked = linked.with_columns(
        (pl.col("source").is_in(list(config.open_record_sources)) & (pl.col("evidence_date") >= as_of))
        .fill_null(False)
        .alias("_open"),
        (pl.col("source").is_in(list(config.open_record_sources)) & (pl.col("evidence_date") < as_of))
        .fill_null(False)
        .alias("_closed"),
    )
    persons = linked.select("person_id").unique()
    if persons.is_empty():
        return pl.DataFrame(schema=RESIDENTS_SCHEMA), pl.DataFrame(schema=HOUSEHOLDS_SCHEMA)
    dob = resolve_dob(linked)
    people = persons.join(dob, on="person_id", how="left").with_columns(
        role_expr(pl.col("date_of_birth"), as_of).alias("role")
    )
    stale_before = None if config.undated_after_months is None else _months_before(as_of, config.undated_after_months)
    completed: dict[str, str] = {}
    if config.flat_from_surname:
        linked, completed = _flat_from_surname(
            linked,
            people.select("person_id", "role"),
            stale_before,
            config.flat_from_surname_roles,
            config.flat_from_surname_rare,
        )
        linked = linked.drop("_flatless_block", "_flat_building")
    by_address = _by_address(linked)
    address = resolve_address(linked, stale_before, by_address)
    own = address
    address, flags = moved_alone(linked, address, people.select("person_id", "role"), as_of, config, by_address)
    if config.former_homes and config.moved_alone != "split":
        address, former = former_homes(linked, address)
        flags = former | flags  # a household the moved-alone rule placed keeps its flag
    address, claim_flags = stale_claims(linked, address, people.select("person_id", "role"), config, opened)
    flags = claim_flags | flags  # a household the moved-alone rule placed keeps its flag
    if (
        (config.lone_children or config.left_behind)
        and config.moved_alone == "move_together"
        and "child" in config.mover_roles
    ):
        address, lone_flags = lone_children(
            linked, address, people.select("person_id", "role"), with_adults=config.left_behind
        )
        flags = lone_flags | flags
    if config.children_rejoin and config.moved_alone != "split":
        address, rejoin_flags = children_rejoin(linked, address, people.select("person_id", "role"))
        flags = rejoin_flags | flags  # an earlier rule's flag is kept
    if config.children_follow and config.moved_alone != "split":
        address, follow_flags = children_follow(linked, address, people.select("person_id", "role"))
        flags = follow_flags | flags
    if config.moved_in and config.moved_alone != "split":
        address, moved_in_flags = moved_in(linked, address, people.select("person_id", "role"))
        flags = moved_in_flags | flags
    if config.unseen_homes:
        address = unseen_homes(linked, address, own)
    if config.postcode_only:
        address, postcode_flags = postcode_only(
            linked, address, config.postcode_only_rare, config.postcode_only_incidents
        )
        flags = postcode_flags | flags
    for person, key in address.filter(pl.col("person_id").is_in(list(completed))).iter_rows():
        if key == completed[person]:
            flags.setdefault(key, "flat_from_surname")  # a moved-alone or stale-claim flag is kept
    status = (
        linked.filter(pl.col("address_key").is_not_null())
        .group_by("address_key", "address_status")
        .len()
        .sort(["address_key", "len", "address_status"], descending=[False, True, False], nulls_last=True)
        .unique("address_key", keep="first", maintain_order=True)
        .select("address_key", "address_status")
    )
    keyed = address.join(status, on="address_key", how="left").with_columns(
        pl.when(pl.col("address_key").str.starts_with("U:"))
        .then(pl.col("address_key").str.slice(2).cast(pl.Int64))
        .alias("uprn"),
    )
    keyed = keyed.with_columns(
        pl.when(pl.col("uprn").is_not_null())
        .then(pl.col("uprn").map_elements(household_id_for, return_dtype=pl.String, skip_nulls=True))
        .otherwise(pl.col("address_key").map_elements(household_id_for_address, return_dtype=pl.String))
        .alias("household_id")
    )
    residents = people.join(keyed, on="person_id", how="left").select(list(RESIDENTS_SCHEMA)).sort("person_id")
    flag_frame = pl.DataFrame(
        {"address_key": list(flags), "review_reason": list(flags.values())},
        schema={"address_key": pl.String, "review_reason": pl.String},
    )
    counts = (
        keyed.filter(pl.col("household_id").is_not_null())
        .group_by("household_id", "uprn", "address_key", "address_status")
        .len()
    )
    households = (
        counts.join(_household_address(linked, gazetteer), on="address_key", how="left")
        .join(flag_frame, on="address_key", how="left")
        .select(
            "household_id",
            "uprn",
            "address",
            "postcode",
            pl.col("len").cast(pl.Int64).alias("n_members"),
            "address_status",
            "review_reason",
        )
        .sort("household_id")
    )
    log.info(
        "placed %d of %d persons in %d households (%d at an address with no single UPRN)",
        counts["len"].sum(),
        residents.height,
        households.height,
        households["address_status"].is_not_null().sum(),
    )
    return residents, households
