"""The unit tree: browse, create, edit, move, delete, and CSV/XLSX import and export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from lamsach.campaign import tree_io
from lamsach.campaign import units as svc
from lamsach.campaign.errors import (
    ImportFailed,
    ImportIssue,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from lamsach.campaign.permissions import (
    Action,
    can,
    can_global,
    require,
    require_anywhere,
    scope_units,
)
from lamsach.storage.models import Unit, User
from lamsach.web.deps import CurrentUser, Db, flash, get_portal, render, request_locale, t
from lamsach.web.messages import field_errors, issue_text
from lamsach.web.schemas import ImportOut, UnitIn, UnitOut, unit_out

router = APIRouter()
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
IMPORT_SUFFIXES = (".csv", ".xlsx")


def visible_units(db: Session, user: User) -> list[Unit]:
    """Every unit the user may see, tree by tree from the top of their reach."""
    found: list[Unit] = []
    for top in scope_units(user, Action.VIEW_UNIT):
        found.extend(svc.subtree(db, top))
    return found


def _fields(body: UnitIn) -> svc.UnitFields:
    return svc.UnitFields(
        code=body.code,
        name=body.name,
        kind=body.kind,
        contact_person=body.contact_person,
        contact_email=body.contact_email,
        contact_phone=body.contact_phone,
        networks=tuple(body.networks),
    )


def create(db: Session, user: User, body: UnitIn) -> Unit:
    parent = svc.get_unit(db, body.parent_id) if body.parent_id is not None else None
    unit = svc.create_unit(db, user, _fields(body), parent)
    db.commit()
    return unit


def update(db: Session, user: User, unit: Unit, body: UnitIn) -> Unit:
    svc.update_unit(db, user, unit, _fields(body))
    if body.parent_id != unit.parent_id:
        parent = svc.get_unit(db, body.parent_id) if body.parent_id is not None else None
        unit = svc.move_unit(db, user, unit, parent)
    db.commit()
    return unit


def export_bytes(db: Session, user: User, fmt: str, root_id: int | None) -> tuple[bytes, str]:
    if fmt not in EXPORT_TYPES:
        raise NotFound("request.invalid", format=fmt)
    if root_id is not None:
        root = svc.get_unit(db, root_id)
    else:
        tops = scope_units(user, Action.VIEW_UNIT)
        if not tops:
            raise PermissionDenied("permission.denied", action=Action.VIEW_UNIT.value, unit="")
        root = tops[0]
    require(user, Action.VIEW_UNIT, root)
    data = (tree_io.export_units_csv if fmt == "csv" else tree_io.export_units_xlsx)(db, root)
    return data, f"units-{root.code}.{fmt}"


async def import_upload(request: Request, db: Session, user: User, upload: UploadFile) -> ImportOut:
    """Read the upload within the size limit and hand it to the domain's import (all or nothing)."""
    require_anywhere(user, Action.MANAGE_UNITS)
    limit = get_portal(request).settings.upload_max_bytes
    name = upload.filename or ""
    if not name.lower().endswith(IMPORT_SUFFIXES):
        raise ImportFailed([ImportIssue(1, "", "upload.bad_type", {"value": name})])
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ImportFailed([ImportIssue(1, "", "upload.too_large", {"limit": limit})])
    summary = tree_io.import_units(db, user, data, name)
    db.commit()
    return ImportOut(created=summary.created, updated=summary.updated)


def _import_messages(request: Request, error: ImportFailed) -> list[str]:
    locale = request_locale(request)
    lines = []
    for issue in error.issues:
        text = issue_text(issue, locale)
        where = t(request, "Row %(row)s", row=issue.row)
        lines.append(f"{where}{', ' + issue.column if issue.column else ''}: {text}")
    return lines


@router.get("/units", name="units_page", include_in_schema=False)
def units_page(request: Request, db: Db, user: CurrentUser) -> Response:
    units = visible_units(db, user)
    manageable = {u.id for u in units if can(user, Action.MANAGE_UNITS, u)}
    return render(
        request,
        "units.html",
        {
            "units": units,
            "manageable": manageable,
            "import_errors": [],
            "can_root": can_global(user, Action.MANAGE_UNITS),
            "nav": "units",
            "kind_names": _kind_names(request),
        },
    )


def _kind_names(request: Request) -> dict[str, str]:
    en = request_locale(request) == "en"
    return {k: (v[1] if en else v[0]) for k, v in svc.KNOWN_KINDS.items()}


def _unit_form(
    request: Request,
    db: Session,
    user: User,
    unit: Unit | None,
    values: dict[str, object],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> Response:
    parents = [u for u in visible_units(db, user) if can(user, Action.MANAGE_UNITS, u)]
    if unit is not None:
        parents = [p for p in parents if not p.path.startswith(unit.path)]
    editable = unit is None or can(user, Action.MANAGE_UNITS, unit)
    return render(
        request,
        "unit_form.html",
        {
            "unit": unit,
            "v": values,
            "errors": errors,
            "parents": parents,
            "editable": editable,
            "kind_names": _kind_names(request),
            "nav": "units",
            "can_delete": unit is not None
            and unit.parent is not None
            and can(user, Action.MANAGE_UNITS, unit.parent),
        },
        status_code,
    )


def _values(unit: Unit) -> dict[str, object]:
    return {
        "code": unit.code,
        "name": unit.name,
        "kind": unit.kind,
        "parent_id": unit.parent_id,
        "contact_person": unit.contact_person,
        "contact_email": unit.contact_email,
        "contact_phone": unit.contact_phone,
        "networks": "\n".join(unit.networks or []),
    }


Text = Annotated[str, Field(max_length=5000)]


class UnitForm(BaseModel):
    """The unit form of the pages, as posted (the create and the edit page share it)."""

    code: Text
    name: Text
    kind: Text
    parent_id: Text = ""
    contact_person: Text = ""
    contact_email: Text = ""
    contact_phone: Text = ""
    networks: Text = ""

    def body(self) -> UnitIn:
        return UnitIn(
            code=self.code[:64],
            name=self.name[:255],
            kind=self.kind[:32],
            parent_id=self.parent(),
            contact_person=self.contact_person[:255],
            contact_email=self.contact_email[:255],
            contact_phone=self.contact_phone[:64],
            networks=self.networks.split(),
        )

    def parent(self) -> int | None:
        return int(self.parent_id) if self.parent_id.isdigit() else None

    def shown(self) -> dict[str, object]:
        """The values to show again in the form after a refusal."""
        return self.model_dump() | {"parent_id": self.parent()}


@router.get("/units/new", name="unit_new_page", include_in_schema=False)
def unit_new_page(
    request: Request, db: Db, user: CurrentUser, parent: int | None = None
) -> Response:
    if parent is not None:
        require(user, Action.MANAGE_UNITS, svc.get_unit(db, parent))
    else:
        require_anywhere(user, Action.MANAGE_UNITS)
    return _unit_form(request, db, user, None, {"parent_id": parent, "kind": "ward"}, {})


@router.post("/units/new", name="unit_create", include_in_schema=False)
def unit_create(
    request: Request, db: Db, user: CurrentUser, form: Annotated[UnitForm, Form()]
) -> Response:
    try:
        unit = create(db, user, form.body())
    except ValidationFailed as error:
        db.rollback()
        return _unit_form(
            request, db, user, None, form.shown(), field_errors(error, request_locale(request)), 422
        )
    flash(request, "ok", t(request, "The unit has been created."))
    return RedirectResponse(f"/units/{unit.id}", status_code=303)


@router.get("/units/export", name="units_export", include_in_schema=False)
def units_export(
    db: Db, user: CurrentUser, format: str = "xlsx", root: int | None = None
) -> Response:
    data, filename = export_bytes(db, user, format, root)
    return Response(
        data,
        media_type=EXPORT_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/units/import", name="units_import", include_in_schema=False)
async def units_import(request: Request, db: Db, user: CurrentUser, file: UploadFile) -> Response:
    try:
        summary = await import_upload(request, db, user, file)
    except ImportFailed as error:
        db.rollback()
        units = visible_units(db, user)
        return render(
            request,
            "units.html",
            {
                "units": units,
                "manageable": {u.id for u in units if can(user, Action.MANAGE_UNITS, u)},
                "import_errors": _import_messages(request, error),
                "can_root": can_global(user, Action.MANAGE_UNITS),
                "nav": "units",
                "kind_names": _kind_names(request),
            },
            422,
        )
    flash(
        request,
        "ok",
        t(
            request,
            "Imported: %(created)s new units, %(updated)s updated.",
            created=summary.created,
            updated=summary.updated,
        ),
    )
    return RedirectResponse("/units", status_code=303)


@router.get("/units/{unit_id}", name="unit_page", include_in_schema=False)
def unit_page(request: Request, db: Db, user: CurrentUser, unit_id: int) -> Response:
    unit = svc.get_unit(db, unit_id)
    require(user, Action.VIEW_UNIT, unit)
    return _unit_form(request, db, user, unit, _values(unit), {})


@router.post("/units/{unit_id}", name="unit_update", include_in_schema=False)
def unit_update(
    request: Request, db: Db, user: CurrentUser, unit_id: int, form: Annotated[UnitForm, Form()]
) -> Response:
    unit = svc.get_unit(db, unit_id)
    try:
        update(db, user, unit, form.body())
    except ValidationFailed as error:
        db.rollback()
        unit = svc.get_unit(db, unit_id)
        return _unit_form(
            request, db, user, unit, form.shown(), field_errors(error, request_locale(request)), 422
        )
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/units/{unit_id}", status_code=303)


@router.post("/units/{unit_id}/delete", name="unit_delete", include_in_schema=False)
def unit_delete(request: Request, db: Db, user: CurrentUser, unit_id: int) -> Response:
    svc.delete_unit(db, user, svc.get_unit(db, unit_id))
    db.commit()
    flash(request, "ok", t(request, "The unit has been deleted."))
    return RedirectResponse("/units", status_code=303)


# --- JSON API ----------------------------------------------------------------------------------


@router.get("/api/units", response_model=list[UnitOut], tags=["units"])
def api_units(db: Db, user: CurrentUser) -> list[UnitOut]:
    """Every unit the user may see, in tree order."""
    return [unit_out(u) for u in visible_units(db, user)]


@router.post("/api/units", response_model=UnitOut, status_code=201, tags=["units"])
def api_unit_create(db: Db, user: CurrentUser, body: UnitIn) -> UnitOut:
    return unit_out(create(db, user, body))


@router.get("/api/units/export", tags=["units"], response_class=Response)
def api_units_export(
    db: Db, user: CurrentUser, format: str = "csv", root: int | None = None
) -> Response:
    """The subtree under ``root`` as CSV or XLSX (columns as the import reads them)."""
    data, filename = export_bytes(db, user, format, root)
    return Response(
        data,
        media_type=EXPORT_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/api/units/import", response_model=ImportOut, tags=["units"])
async def api_units_import(
    request: Request, db: Db, user: CurrentUser, file: UploadFile
) -> ImportOut:
    """Create or update units from CSV/XLSX; 422 lists every error by row and column."""
    return await import_upload(request, db, user, file)


@router.get("/api/units/{unit_id}", response_model=UnitOut, tags=["units"])
def api_unit(db: Db, user: CurrentUser, unit_id: int) -> UnitOut:
    unit = svc.get_unit(db, unit_id)
    require(user, Action.VIEW_UNIT, unit)
    return unit_out(unit)


@router.put("/api/units/{unit_id}", response_model=UnitOut, tags=["units"])
def api_unit_update(db: Db, user: CurrentUser, unit_id: int, body: UnitIn) -> UnitOut:
    return unit_out(update(db, user, svc.get_unit(db, unit_id), body))


@router.delete("/api/units/{unit_id}", status_code=204, tags=["units"])
def api_unit_delete(db: Db, user: CurrentUser, unit_id: int) -> Response:
    svc.delete_unit(db, user, svc.get_unit(db, unit_id))
    db.commit()
    return Response(status_code=204)
