"""Every route of the portal against every role: allowed roles get through, the others get 403.

The matrix is keyed by the routes the application declares, so a new route without an entry
fails ``test_every_route_has_a_matrix_entry``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from lamsach.campaign.campaigns import CampaignFields, create_campaign
from lamsach.campaign.permissions import Role
from lamsach.campaign.templates import copy_template, ensure_builtin_template
from lamsach.campaign.units import UnitFields, create_unit, get_unit
from lamsach.campaign.users import assign_role, get_user
from lamsach.web.app import create_app

from .conftest import Portal

ROLES = ("admin", "coordinator", "officer", "other_officer", "viewer", "anonymous")
LOGGED_IN = frozenset(ROLES) - {"anonymous"}
PUBLIC = frozenset(ROLES)
ADMIN = frozenset({"admin"})
COORD = frozenset({"admin", "coordinator"})
# Who may see or work on the officer's own ward (the other ward's officer may not).
WARD_READ = frozenset({"admin", "coordinator", "viewer", "officer"})
WARD_EDIT = frozenset({"admin", "coordinator", "officer"})


@dataclass
class Ids:
    """Everything the requests point at, made once per database."""

    campaign: int
    setup_campaign: int
    ward: int
    city: int
    template: int
    editable_template: int
    officer_user: int
    portal: Portal
    extra: dict[str, int] = field(default_factory=dict)

    def leaf_unit(self) -> int:
        """A fresh unit nobody uses (for the delete routes)."""
        with self.portal.session() as db:
            count = self.extra["leaf"] = self.extra.get("leaf", 0) + 1
            unit = create_unit(
                db,
                None,
                UnitFields(f"TMP-{count}", f"Tạm {count}", "agency"),
                get_unit(db, self.city),
            )
            return unit.id

    def role_assignment(self) -> int:
        with self.portal.session() as db:
            count = self.extra["role"] = self.extra.get("role", 0) + 1
            unit = create_unit(
                db,
                None,
                UnitFields(f"ROLE-{count}", f"Vai trò {count}", "agency"),
                get_unit(db, self.city),
            )
            return assign_role(db, None, get_user(db, self.officer_user), Role.VIEWER, unit).id


@dataclass(frozen=True)
class Case:
    allowed: frozenset[str]
    path: Callable[[Ids], str]
    json: Callable[[Ids], Any] | None = None
    data: Callable[[Ids], dict[str, Any]] | None = None
    files: bool = False


def _campaign_form(i: Ids) -> dict[str, Any]:
    return {
        "name": "Chiến dịch thử",
        "owner_unit_id": i.city,
        "template_id": i.template,
        "start_date": "2030-01-01",
        "deadline": "2030-02-01",
        "lock_date": "2030-03-01",
    }


def _campaign_json(i: Ids) -> dict[str, Any]:
    return {**_campaign_form(i), "directive_refs": ["1298/CATTT-NCSC"]}


def _unit_json(i: Ids) -> dict[str, Any]:
    return {
        "code": f"API-{i.leaf_unit()}",
        "name": "Đơn vị API",
        "kind": "agency",
        "parent_id": i.city,
    }


def _ward_json(i: Ids) -> dict[str, Any]:
    return {
        "code": "TH-TPTH-P-DIENBIEN-X",
        "name": "UBND phường Điện Biên",
        "kind": "ward",
        "parent_id": i.city,
    }


def _report(i: Ids) -> str:
    return f"/campaigns/{i.campaign}/units/{i.ward}/report"


def _api_report(i: Ids) -> str:
    return f"/api/campaigns/{i.campaign}/units/{i.ward}/report"


VALUES = {"v__computers_total": "12", "v__computers_scanned": "10"}

MATRIX: dict[tuple[str, str], Case] = {
    ("GET", "/"): Case(PUBLIC, lambda i: "/"),
    ("GET", "/login"): Case(PUBLIC, lambda i: "/login"),
    ("POST", "/login"): Case(
        PUBLIC, lambda i: "/login", data=lambda i: {"username": "nobody", "password": "x"}
    ),
    ("POST", "/logout"): Case(PUBLIC, lambda i: "/logout"),
    ("POST", "/language"): Case(PUBLIC, lambda i: "/language", data=lambda i: {"locale": "vi"}),
    ("POST", "/api/auth/token"): Case(
        PUBLIC, lambda i: "/api/auth/token", json=lambda i: {"username": "nobody", "password": "x"}
    ),
    ("GET", "/api/openapi.json"): Case(PUBLIC, lambda i: "/api/openapi.json"),
    ("POST", "/api/language"): Case(
        PUBLIC, lambda i: "/api/language", json=lambda i: {"locale": "en"}
    ),
    ("GET", "/api/me"): Case(LOGGED_IN, lambda i: "/api/me"),
    ("GET", "/tasks"): Case(LOGGED_IN, lambda i: "/tasks"),
    ("GET", "/api/tasks"): Case(LOGGED_IN, lambda i: "/api/tasks"),
    # Report of the officer's ward.
    ("GET", "/campaigns/{campaign_id}/units/{unit_id}/report"): Case(WARD_READ, _report),
    ("POST", "/campaigns/{campaign_id}/units/{unit_id}/report"): Case(
        WARD_EDIT, _report, data=lambda i: {**VALUES, "action": "save"}
    ),
    ("POST", "/campaigns/{campaign_id}/units/{unit_id}/report/check"): Case(
        WARD_READ, lambda i: _report(i) + "/check", data=lambda i: VALUES
    ),
    ("POST", "/campaigns/{campaign_id}/units/{unit_id}/report/submit"): Case(
        WARD_EDIT, lambda i: _report(i) + "/submit"
    ),
    ("POST", "/campaigns/{campaign_id}/units/{unit_id}/report/return"): Case(
        COORD, lambda i: _report(i) + "/return", data=lambda i: {"comment": "Bổ sung số liệu"}
    ),
    ("POST", "/campaigns/{campaign_id}/units/{unit_id}/report/approve"): Case(
        COORD, lambda i: _report(i) + "/approve"
    ),
    ("POST", "/campaigns/{campaign_id}/units/{unit_id}/report/refresh"): Case(
        WARD_EDIT, lambda i: _report(i) + "/refresh"
    ),
    ("GET", "/api/campaigns/{campaign_id}/units/{unit_id}/report"): Case(WARD_READ, _api_report),
    ("PUT", "/api/campaigns/{campaign_id}/units/{unit_id}/report"): Case(
        WARD_EDIT, _api_report, json=lambda i: {"values": {"computers_total": 12}}
    ),
    ("POST", "/api/campaigns/{campaign_id}/units/{unit_id}/report/check"): Case(
        WARD_READ, lambda i: _api_report(i) + "/check", json=lambda i: {"values": {}}
    ),
    ("POST", "/api/campaigns/{campaign_id}/units/{unit_id}/report/submit"): Case(
        WARD_EDIT, lambda i: _api_report(i) + "/submit"
    ),
    ("POST", "/api/campaigns/{campaign_id}/units/{unit_id}/report/return"): Case(
        COORD, lambda i: _api_report(i) + "/return", json=lambda i: {"comment": "Sửa lại"}
    ),
    ("POST", "/api/campaigns/{campaign_id}/units/{unit_id}/report/approve"): Case(
        COORD, lambda i: _api_report(i) + "/approve"
    ),
    ("POST", "/api/campaigns/{campaign_id}/units/{unit_id}/report/refresh"): Case(
        WARD_EDIT, lambda i: _api_report(i) + "/refresh"
    ),
    # Campaigns and the dashboard (looked at from the officer's ward).
    ("GET", "/campaigns"): Case(LOGGED_IN, lambda i: "/campaigns"),
    ("GET", "/campaigns/{campaign_id}"): Case(
        WARD_READ, lambda i: f"/campaigns/{i.campaign}?unit={i.ward}"
    ),
    ("GET", "/api/campaigns"): Case(LOGGED_IN, lambda i: "/api/campaigns"),
    ("GET", "/api/campaigns/{campaign_id}"): Case(
        LOGGED_IN, lambda i: f"/api/campaigns/{i.campaign}"
    ),
    ("GET", "/api/campaigns/{campaign_id}/completeness"): Case(
        WARD_READ, lambda i: f"/api/campaigns/{i.campaign}/completeness?unit={i.ward}"
    ),
    ("GET", "/api/campaigns/{campaign_id}/totals-by-unit"): Case(
        WARD_READ, lambda i: f"/api/campaigns/{i.campaign}/totals-by-unit?unit={i.ward}"
    ),
    ("GET", "/campaigns/new"): Case(COORD, lambda i: "/campaigns/new"),
    ("POST", "/campaigns/new"): Case(COORD, lambda i: "/campaigns/new", data=_campaign_form),
    ("GET", "/campaigns/{campaign_id}/edit"): Case(
        COORD, lambda i: f"/campaigns/{i.setup_campaign}/edit"
    ),
    ("POST", "/campaigns/{campaign_id}/edit"): Case(
        COORD, lambda i: f"/campaigns/{i.setup_campaign}/edit", data=_campaign_form
    ),
    ("POST", "/campaigns/{campaign_id}/participants"): Case(
        COORD,
        lambda i: f"/campaigns/{i.setup_campaign}/participants",
        data=lambda i: {"unit_id": [str(i.ward)]},
    ),
    ("POST", "/campaigns/{campaign_id}/exceptions"): Case(
        COORD,
        lambda i: f"/campaigns/{i.setup_campaign}/exceptions",
        data=lambda i: {"unit_id": str(i.ward), "lock_date": "2030-04-01"},
    ),
    ("POST", "/campaigns/{campaign_id}/exceptions/{unit_id}/delete"): Case(
        COORD, lambda i: f"/campaigns/{i.setup_campaign}/exceptions/{i.ward}/delete"
    ),
    ("POST", "/api/campaigns"): Case(COORD, lambda i: "/api/campaigns", json=_campaign_json),
    ("PUT", "/api/campaigns/{campaign_id}"): Case(
        COORD, lambda i: f"/api/campaigns/{i.setup_campaign}", json=_campaign_json
    ),
    ("PUT", "/api/campaigns/{campaign_id}/participants"): Case(
        COORD,
        lambda i: f"/api/campaigns/{i.setup_campaign}/participants",
        json=lambda i: {"unit_ids": [i.ward]},
    ),
    ("GET", "/api/campaigns/{campaign_id}/exceptions"): Case(
        COORD, lambda i: f"/api/campaigns/{i.setup_campaign}/exceptions"
    ),
    ("POST", "/api/campaigns/{campaign_id}/exceptions"): Case(
        COORD,
        lambda i: f"/api/campaigns/{i.setup_campaign}/exceptions",
        json=lambda i: {"unit_id": i.ward, "lock_date": "2030-04-01"},
    ),
    ("DELETE", "/api/campaigns/{campaign_id}/exceptions/{unit_id}"): Case(
        COORD, lambda i: f"/api/campaigns/{i.setup_campaign}/exceptions/{i.ward}"
    ),
    # Units.
    ("GET", "/units"): Case(LOGGED_IN, lambda i: "/units"),
    ("GET", "/units/new"): Case(ADMIN, lambda i: f"/units/new?parent={i.city}"),
    ("POST", "/units/new"): Case(
        ADMIN,
        lambda i: "/units/new",
        data=lambda i: {
            "code": f"NEW-{i.leaf_unit()}",
            "name": "Đơn vị mới",
            "kind": "agency",
            "parent_id": str(i.city),
        },
    ),
    ("GET", "/units/export"): Case(LOGGED_IN, lambda i: "/units/export?format=csv"),
    ("POST", "/units/import"): Case(ADMIN, lambda i: "/units/import", files=True),
    ("GET", "/units/{unit_id}"): Case(WARD_READ, lambda i: f"/units/{i.ward}"),
    ("POST", "/units/{unit_id}"): Case(
        ADMIN,
        lambda i: f"/units/{i.ward}",
        data=lambda i: {
            "code": "TH-TPTH-P-DIENBIEN-X",
            "name": "UBND phường Điện Biên",
            "kind": "ward",
            "parent_id": str(i.city),
        },
    ),
    ("POST", "/units/{unit_id}/delete"): Case(ADMIN, lambda i: f"/units/{i.leaf_unit()}/delete"),
    ("GET", "/api/units"): Case(LOGGED_IN, lambda i: "/api/units"),
    ("POST", "/api/units"): Case(ADMIN, lambda i: "/api/units", json=_unit_json),
    ("GET", "/api/units/export"): Case(LOGGED_IN, lambda i: "/api/units/export?format=xlsx"),
    ("POST", "/api/units/import"): Case(ADMIN, lambda i: "/api/units/import", files=True),
    ("GET", "/api/units/{unit_id}"): Case(WARD_READ, lambda i: f"/api/units/{i.ward}"),
    ("PUT", "/api/units/{unit_id}"): Case(ADMIN, lambda i: f"/api/units/{i.ward}", json=_ward_json),
    ("DELETE", "/api/units/{unit_id}"): Case(ADMIN, lambda i: f"/api/units/{i.leaf_unit()}"),
    # Users.
    ("GET", "/users"): Case(ADMIN, lambda i: "/users"),
    ("POST", "/users"): Case(
        ADMIN,
        lambda i: "/users",
        data=lambda i: {
            "username": f"u{i.leaf_unit()}",
            "password": "mat-khau-dai",
            "role": "viewer",
            "unit_id": str(i.ward),
        },
    ),
    ("GET", "/users/{user_id}"): Case(ADMIN, lambda i: f"/users/{i.officer_user}"),
    ("POST", "/users/{user_id}"): Case(
        ADMIN, lambda i: f"/users/{i.officer_user}", data=lambda i: {"password": "lamsach2022"}
    ),
    ("POST", "/users/{user_id}/roles"): Case(
        ADMIN,
        lambda i: f"/users/{i.officer_user}/roles",
        data=lambda i: {"role": "viewer", "unit_id": str(i.ward)},
    ),
    ("POST", "/users/{user_id}/roles/{assignment_id}/delete"): Case(
        ADMIN, lambda i: f"/users/{i.officer_user}/roles/{i.role_assignment()}/delete"
    ),
    ("GET", "/api/users"): Case(ADMIN, lambda i: "/api/users"),
    ("POST", "/api/users"): Case(
        ADMIN,
        lambda i: "/api/users",
        json=lambda i: {
            "username": f"api{i.leaf_unit()}",
            "password": "mat-khau-dai",
            "role": "viewer",
            "unit_id": i.ward,
        },
    ),
    ("GET", "/api/users/{user_id}"): Case(ADMIN, lambda i: f"/api/users/{i.officer_user}"),
    ("PATCH", "/api/users/{user_id}"): Case(
        ADMIN, lambda i: f"/api/users/{i.officer_user}", json=lambda i: {"password": "lamsach2022"}
    ),
    ("POST", "/api/users/{user_id}/roles"): Case(
        ADMIN,
        lambda i: f"/api/users/{i.officer_user}/roles",
        json=lambda i: {"role": "viewer", "unit_id": i.ward},
    ),
    ("DELETE", "/api/users/{user_id}/roles/{assignment_id}"): Case(
        ADMIN, lambda i: f"/api/users/{i.officer_user}/roles/{i.role_assignment()}"
    ),
    # Templates and the audit log.
    ("GET", "/templates"): Case(COORD, lambda i: "/templates"),
    ("GET", "/templates/{template_id}"): Case(COORD, lambda i: f"/templates/{i.template}"),
    ("POST", "/templates/{template_id}/copy"): Case(
        COORD, lambda i: f"/templates/{i.template}/copy"
    ),
    ("POST", "/templates/{template_id}"): Case(
        COORD, lambda i: f"/templates/{i.editable_template}", data=lambda i: {"rules": ""}
    ),
    ("GET", "/api/templates"): Case(COORD, lambda i: "/api/templates"),
    ("GET", "/api/templates/{template_id}"): Case(COORD, lambda i: f"/api/templates/{i.template}"),
    ("POST", "/api/templates/{template_id}/copy"): Case(
        COORD, lambda i: f"/api/templates/{i.template}/copy", json=lambda i: {}
    ),
    ("PUT", "/api/templates/{template_id}"): Case(
        COORD,
        lambda i: f"/api/templates/{i.editable_template}",
        json=lambda i: {"definition": {"sections": []}},
    ),
    ("GET", "/audit"): Case(ADMIN, lambda i: "/audit"),
    ("GET", "/api/audit"): Case(ADMIN, lambda i: "/api/audit"),
}
MOUNTS = {"/static"}


def _walk(routes: list[Any]) -> list[Any]:
    """The routes of the app, including those of included routers (FastAPI wraps them)."""
    flat: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            flat.extend(_walk(list(inner.routes)))
        else:
            flat.append(route)
    return flat


def declared_routes() -> set[tuple[str, str]]:
    from lamsach.settings import Settings

    app = create_app(Settings(database_url="sqlite://", secret_key="k" * 40))
    found: set[tuple[str, str]] = set()
    for route in _walk(app.routes):
        if isinstance(route, Mount):
            assert route.path in MOUNTS, f"mount {route.path} has no matrix entry"
            continue
        methods = route.methods if isinstance(route, APIRoute) else getattr(route, "methods", None)
        for method in sorted(methods or ()):
            if method != "HEAD":
                found.add((method, route.path))
    return found


def test_every_route_has_a_matrix_entry() -> None:
    declared = declared_routes()
    missing = declared - set(MATRIX)
    stale = set(MATRIX) - declared
    assert not missing, f"routes without a permission matrix entry: {sorted(missing)}"
    assert not stale, f"matrix entries for routes that no longer exist: {sorted(stale)}"


def _ids(portal: Portal) -> Ids:
    with portal.session() as db:
        builtin = ensure_builtin_template(db)
        editable = copy_template(db, None, builtin)
        ward = portal.unit_of("officer")
        city = get_unit(db, ward).parent_id
        assert city is not None
        setup = create_campaign(
            db,
            None,
            CampaignFields("Chiến dịch thiết lập", *_dates()),
            owner_unit=get_unit(db, city),
            template=builtin,
        )
        ids = (portal.demo.campaign_id, setup.id, ward, city, builtin.id, editable.id)
    return Ids(*ids, officer_user=portal.user_id("officer"), portal=portal)


def _dates() -> tuple[Any, Any, Any]:
    from datetime import date

    return date(2030, 1, 1), date(2030, 2, 1), date(2030, 3, 1)


def _request(client: TestClient, method: str, case: Case, ids: Ids) -> Any:
    kwargs: dict[str, Any] = {}
    if case.json is not None:
        kwargs["json"] = case.json(ids)
    if case.data is not None:
        kwargs["data"] = case.data(ids)
    if case.files:
        kwargs["files"] = {"file": ("units.csv", b"code,name,kind,parent_code\n", "text/csv")}
    return client.request(method, case.path(ids), **kwargs)


@pytest.mark.slow
def test_permission_matrix(portal: Portal, clients: dict[str, TestClient]) -> None:
    ids = _ids(portal)
    failures: list[str] = []
    # Logging out ends the sessions the other requests ride on: it goes last.
    order = sorted(MATRIX.items(), key=lambda item: (item[0] == ("POST", "/logout"), item[0]))
    for (method, template), case in order:
        for role in ROLES:
            response = _request(clients[role], method, case, ids)
            status = response.status_code
            where = f"{method} {template} as {role}: {status}"
            if status >= 500:
                failures.append(where + " (server error)")
                continue
            if case.allowed is PUBLIC:
                continue  # a wrong password in a public form is not a permission question
            to_login = status == 303 and response.headers["location"].startswith("/login")
            refused = status in (401, 403) or (to_login and template not in ("/", "/logout"))
            if role in case.allowed and refused:
                failures.append(where + " (should be allowed)")
            if role not in case.allowed:
                expected = (401, 303) if role == "anonymous" else (403,)
                if status not in expected or (status == 303 and not to_login):
                    failures.append(where + f" (should be refused with {expected})")
    assert not failures, "\n".join(failures)
