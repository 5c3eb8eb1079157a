"""Report template set-up: list versions, copy one to a new version, edit its rows and rules."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from lamsach.campaign import templates as svc
from lamsach.campaign.errors import ValidationFailed
from lamsach.campaign.permissions import Action, require_anywhere
from lamsach.storage.models import ReportTemplate
from lamsach.web.deps import CurrentUser, Db, flash, render, request_locale, t
from lamsach.web.messages import field_errors
from lamsach.web.schemas import TemplateCopyIn, TemplateIn, TemplateOut, template_out

router = APIRouter()
BLANK_ROWS = 3


def definition_from_form(template: ReportTemplate, form: FormData) -> dict[str, Any]:
    """Rebuild the JSON definition from the row table and the rules box of the edit form."""
    definition = copy.deepcopy(template.definition)
    sections = {s["code"]: {**s, "rows": []} for s in definition.get("sections", [])}
    fields = (
        "row_section",
        "row_code",
        "row_number",
        "row_label_vi",
        "row_label_en",
        "row_type",
        "row_required",
    )
    columns = [[str(v) for v in form.getlist(name)] for name in fields]
    for section, code, number, label_vi, label_en, kind, required in zip(*columns, strict=False):
        if not code.strip() and not label_vi.strip():
            continue
        row = {
            "code": code.strip(),
            "number": number.strip(),
            "label_vi": label_vi.strip(),
            "label_en": label_en.strip() or label_vi.strip(),
            "type": kind,
            "required": required == "yes",
        }
        if kind == "text":
            row["aggregate"] = "none"
        if section in sections:
            sections[section]["rows"].append(row)
    rules = []
    for line in str(form.get("rules") or "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            rules.append({"left": parts[0], "op": parts[1], "right": parts[2]})
        elif parts:
            rules.append({"left": line.strip(), "op": "?", "right": ""})
    definition["sections"] = list(sections.values())
    definition["rules"] = rules
    return definition


@router.get("/templates", name="templates_page", include_in_schema=False)
def templates_page(request: Request, db: Db, user: CurrentUser) -> Response:
    require_anywhere(user, Action.MANAGE_TEMPLATES)
    items = svc.list_templates(db)
    frozen = {tp.id for tp in items if tp.builtin or svc.template_in_use(db, tp)}
    return render(
        request, "templates_list.html", {"templates": items, "frozen": frozen, "nav": "templates"}
    )


def _edit_page(
    request: Request,
    template: ReportTemplate,
    frozen: bool,
    errors: list[str],
    status_code: int = 200,
) -> Response:
    definition = template.definition
    rules = "\n".join(f"{r['left']} {r['op']} {r['right']}" for r in definition.get("rules", []))
    return render(
        request,
        "template_edit.html",
        {
            "template": template,
            "definition": definition,
            "rules": rules,
            "frozen": frozen,
            "errors": errors,
            "blank_rows": BLANK_ROWS,
            "nav": "templates",
        },
        status_code,
    )


@router.get("/templates/{template_id}", name="template_page", include_in_schema=False)
def template_page(request: Request, db: Db, user: CurrentUser, template_id: int) -> Response:
    require_anywhere(user, Action.MANAGE_TEMPLATES)
    template = svc.get_template(db, template_id)
    frozen = template.builtin or svc.template_in_use(db, template)
    return _edit_page(request, template, frozen, [])


@router.post("/templates/{template_id}/copy", name="template_copy", include_in_schema=False)
def template_copy(request: Request, db: Db, user: CurrentUser, template_id: int) -> Response:
    created = svc.copy_template(db, user, svc.get_template(db, template_id))
    db.commit()
    flash(
        request,
        "ok",
        t(request, "Copied to version %(version)s; edit it below.", version=created.version),
    )
    return RedirectResponse(f"/templates/{created.id}", status_code=303)


@router.post("/templates/{template_id}", name="template_update", include_in_schema=False)
async def template_update(
    request: Request, db: Db, user: CurrentUser, template_id: int
) -> Response:
    template = svc.get_template(db, template_id)
    form = await request.form()
    definition = definition_from_form(template, form)
    try:
        svc.update_template(
            db,
            user,
            template,
            definition,
            name_vi=str(form.get("name_vi") or ""),
            name_en=str(form.get("name_en") or ""),
        )
    except ValidationFailed as error:
        db.rollback()
        template = svc.get_template(db, template_id)
        messages = [
            f"{field}: {m}"
            for field, ms in field_errors(error, request_locale(request)).items()
            for m in ms
        ]
        return _edit_page(request, template, False, messages, 422)
    db.commit()
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/templates/{template_id}", status_code=303)


@router.get("/api/templates", response_model=list[TemplateOut], tags=["templates"])
def api_templates(db: Db, user: CurrentUser) -> list[TemplateOut]:
    require_anywhere(user, Action.MANAGE_TEMPLATES)
    return [template_out(tp) for tp in svc.list_templates(db)]


@router.get("/api/templates/{template_id}", response_model=TemplateOut, tags=["templates"])
def api_template(db: Db, user: CurrentUser, template_id: int) -> TemplateOut:
    require_anywhere(user, Action.MANAGE_TEMPLATES)
    return template_out(svc.get_template(db, template_id))


@router.post(
    "/api/templates/{template_id}/copy",
    response_model=TemplateOut,
    status_code=201,
    tags=["templates"],
)
def api_template_copy(
    db: Db, user: CurrentUser, template_id: int, body: TemplateCopyIn
) -> TemplateOut:
    """A new editable version (of the same code, or under ``code``)."""
    created = svc.copy_template(db, user, svc.get_template(db, template_id), code=body.code)
    db.commit()
    return template_out(created)


@router.put("/api/templates/{template_id}", response_model=TemplateOut, tags=["templates"])
def api_template_update(
    db: Db, user: CurrentUser, template_id: int, body: TemplateIn
) -> TemplateOut:
    """Replace the definition of a version no campaign uses yet (409 when frozen)."""
    template = svc.get_template(db, template_id)
    svc.update_template(
        db, user, template, body.definition, name_vi=body.name_vi, name_en=body.name_en
    )
    db.commit()
    return template_out(template)
