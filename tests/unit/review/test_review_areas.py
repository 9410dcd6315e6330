"""Areas (issue 14, item 5): coordinators assigned to areas see, open, decide on and export only their
families; any other is a 404 with an audit row. The role-by-route matrix gains the area dimension.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from tests.unit.review.conftest import csrf_of, sign_in
from tests.unit.review.review_data import password_hash
from tfident.errors import ConfigError
from tfident.review.app import Settings, create_app
from tfident.review.areas import AreaConfig, AreaMap, AreasConfig
from tfident.store import review as store
from tfident.store.tables import metadata

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

AREAS = AreaMap(
    AreasConfig(
        areas=(
            AreaConfig(name="North", postcode_sectors=("TF1 1",)),
            AreaConfig(name="South", postcode_districts=("TF2",)),
            AreaConfig(name="East", postcode_sectors=("TF2 3",)),
        )
    )
)
"""H1 is at TF1 1AA (North), H2 at TF2 2BB (South), H3 at TF2 3CC (East: its sector wins over South's district)."""
FAMILIES = ("H1", "H2", "H3")
SEES: dict[str, set[str]] = {
    "coordinator": {"H1"},  # North
    "south": {"H2"},
    "east_and_north": {"H1", "H3"},
    "council": {"H1", "H2", "H3"},  # no areas: the whole council
    "auditor": {"H1", "H2", "H3"},
}
ASSIGNED = {"coordinator": "North", "south": "South", "east_and_north": "East;North"}


@pytest.fixture
def area_app(engine: Engine) -> FastAPI:
    """The app with three areas and coordinators assigned to them."""
    for name in ("south", "east_and_north", "council"):
        store.add_user(engine, name, "coordinator", password_hash())
    for name, areas in ASSIGNED.items():
        store.update_user(engine, name, areas=areas)
    return create_app(engine, Settings(secret_key="test-secret-" + "x" * 32, areas=AREAS))


@pytest.fixture
def area_client(area_app: FastAPI) -> Iterator[TestClient]:
    """A client of the app with areas."""
    with TestClient(area_app, follow_redirects=False) as client:
        yield client


def test_households_fall_in_areas_by_sector_then_district() -> None:
    """It places a postcode by its sector first, then its district, and nowhere without a postcode."""
    assert AREAS.area_of("TF1 1AA") == "North"
    assert AREAS.area_of("tf2  3cc") == "East"
    assert AREAS.area_of("TF2 2BB") == "South"
    assert AREAS.area_of("TF1 4DD") is None
    assert AREAS.area_of(None) is None
    assert AREAS.within("TF9 9ZZ", ())
    assert not AREAS.within(None, ("North",))


def test_the_areas_file_is_validated(tmp_path: Path) -> None:
    """It refuses an areas file with a bad sector, a bad district, a repeated name or an unknown key."""
    for text in (
        "areas: [{name: A, postcode_sectors: [LS9]}]",
        "areas: [{name: A, postcode_districts: ['LS9 7']}]",
        "areas: [{name: A}, {name: A}]",
        "areas: [{name: A, wards: [x]}]",
    ):
        path = tmp_path / "areas.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError):
            AreaMap.load(path)
    path.write_text("areas: [{name: Inner East, postcode_sectors: ['ls9 7'], postcode_districts: [ls8]}]")
    assert AreaMap.load(path).area_of("LS8 1AB") == "Inner East"
    assert AreaMap.load(Path(__file__).parents[3] / "config" / "areas.yaml").names == []


@pytest.mark.parametrize("username", sorted(SEES))
def test_the_area_matrix(area_client: TestClient, engine: Engine, username: str) -> None:
    """It lets each user list, open, print, decide on and export exactly the families of their areas;
    every other family is a 404 with a family.out_of_area audit row, on every family route.
    """
    token = sign_in(area_client, username)
    sees = SEES[username]
    listed = area_client.get("/runs/R-OCT/candidates", params={"status": "all"}).text
    assert {h for h in FAMILIES if f'href="/families/{h}?' in listed} == sees

    refused = 0
    for household in FAMILIES:
        inside = household in sees
        for path in (f"/families/{household}?run=R-OCT", f"/families/{household}/print?run=R-OCT"):
            assert area_client.get(path).status_code == (200 if inside else 404), (username, path)
        routes = {
            f"/families/{household}/override": {"run_id": "R-OCT", "override_reason": "consented"},
            f"/families/{household}/links": {
                "run_id": "R-OCT",
                "record_key_l": "x",
                "record_key_r": "y",
                "kind": "must_link",
            },
            f"/families/{household}/decisions": {"run_id": "R-OCT", "decision": "defer"},
        }
        for path, data in routes.items():
            if username == "auditor":
                continue
            status = area_client.post(path, data={**data, "csrf_token": token}).status_code
            assert (status != 404) if inside else (status == 404), (username, path, status)
        refused += 0 if inside else (2 if username == "auditor" else 5)
    pair = area_client.get(
        "/pairs", params={"run": "R-OCT", "left": "asb:X1", "right": "benefits:B1", "household": "H1"}
    )
    if username != "auditor":
        assert pair.status_code == (200 if "H1" in sees else 404)
        refused += 0 if "H1" in sees else 1

    audit = metadata.tables["audit_log"]
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(audit.c.object_id, audit.c.username).where(audit.c.action == "family.out_of_area")
        ).all()
    assert len(rows) == refused
    assert all(row.username == username for row in rows)

    if username == "auditor":
        return
    for scope, data in (("shown", {"status": "all"}), ("selected", {"household_id": list(FAMILIES)})):
        response = area_client.post(
            "/runs/R-OCT/export", data={"scope": scope, "format": "csv", "csrf_token": token, **data}
        )
        assert response.status_code == 200
        exported = {h for h in FAMILIES if f"{h}," in response.text or f",{h}" in response.text}
        assert exported == sees, (username, scope)


def test_an_admin_assigns_areas(area_client: TestClient, engine: Engine) -> None:
    """It lets an admin tick a coordinator's areas (or none, for the whole council), audited."""
    token = sign_in(area_client, "admin")
    page = area_client.get("/users/council")
    assert "Areas council works in" in page.text
    assert (
        area_client.post("/users/council/areas", data={"csrf_token": token, "areas": ["South", "East"]}).status_code
        == 303
    )
    assert store.get_user(engine, "council").area_list == ("South", "East")  # type: ignore[union-attr]
    bad = area_client.post("/users/council/areas", data={"csrf_token": token, "areas": ["Atlantis"]})
    assert bad.status_code == 400
    assert area_client.post("/users/council/areas", data={"csrf_token": token}).status_code == 303
    assert store.get_user(engine, "council").area_list == ()  # type: ignore[union-attr]
    assert csrf_of(page.text)
