"""User management: create users, set passwords, (de)activate, give and take roles over units."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from lamsach.campaign import users as svc
from lamsach.campaign.errors import Issue, PermissionDenied, ValidationFailed
from lamsach.campaign.permissions import Action, Role, can, require_anywhere, scope_units
from lamsach.campaign.units import get_unit, subtree
from lamsach.storage.models import Unit, User
from lamsach.web.deps import CurrentUser, Db, flash, render, request_locale, t
from lamsach.web.messages import field_errors
from lamsach.web.schemas import RoleIn, UserIn, UserOut, UserPatch, user_out

router = APIRouter()
Text = Annotated[str, Form(max_length=1000)]


def _role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        raise ValidationFailed([Issue("role", "field.required")]) from None


def managed_units(db: Session, user: User) -> list[Unit]:
    found: list[Unit] = []
    for top in scope_units(user, Action.MANAGE_USERS):
        found.extend(subtree(db, top))
    return found


def visible_user(db: Session, actor: User, user_id: int) -> User:
    """A user the actor manages (the domain's list decides who that is)."""
    require_anywhere(actor, Action.MANAGE_USERS)
    user = svc.get_user(db, user_id)
    if user.id != actor.id and all(u.id != user.id for u in svc.list_users(db, actor)):
        raise PermissionDenied("permission.denied", action=Action.MANAGE_USERS.value, unit="")
    return user


def create(db: Session, actor: User, body: UserIn) -> User:
    require_anywhere(actor, Action.MANAGE_USERS)
    role = _role(body.role) if body.role else None
    unit = get_unit(db, body.unit_id) if body.unit_id is not None else None
    user = svc.create_user(
        db,
        actor,
        body.username,
        body.password,
        full_name=body.full_name,
        email=body.email,
        locale=body.locale,
        role=role,
        unit=unit,
    )
    db.commit()
    return user


def patch(db: Session, actor: User, user: User, body: UserPatch) -> User:
    if body.password:
        svc.set_password(db, actor, user, body.password)
    if body.is_active is not None:
        svc.set_active(db, actor, user, body.is_active)
    db.commit()
    return user


def _list_page(
    request: Request,
    db: Session,
    actor: User,
    values: dict[str, object],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "users.html",
        {
            "users": svc.list_users(db, actor),
            "units": managed_units(db, actor),
            "roles": [r.value for r in Role],
            "v": values,
            "errors": errors,
            "nav": "users",
        },
        status_code,
    )


@router.get("/users", name="users_page", include_in_schema=False)
def users_page(request: Request, db: Db, user: CurrentUser) -> Response:
    require_anywhere(user, Action.MANAGE_USERS)
    return _list_page(request, db, user, {"role": "officer", "locale": "vi"}, {})


@router.post("/users", name="user_create", include_in_schema=False)
def user_create(
    request: Request,
    db: Db,
    user: CurrentUser,
    username: Text,
    password: Text,
    full_name: Text = "",
    email: Text = "",
    locale: Text = "vi",
    role: Text = "",
    unit_id: Text = "",
) -> Response:
    values: dict[str, object] = dict(
        username=username,
        full_name=full_name,
        email=email,
        locale=locale,
        role=role,
        unit_id=int(unit_id) if unit_id.isdigit() else None,
    )
    try:
        created = create(db, user, UserIn(password=password, **values))  # type: ignore[arg-type]
    except ValidationFailed as error:
        db.rollback()
        return _list_page(
            request, db, user, values, field_errors(error, request_locale(request)), 422
        )
    flash(request, "ok", t(request, "The user %(name)s has been created.", name=created.username))
    return RedirectResponse(f"/users/{created.id}", status_code=303)


def _user_page(
    request: Request,
    db: Session,
    actor: User,
    target: User,
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "user.html",
        {
            "target": target,
            "units": managed_units(db, actor),
            "roles": [r.value for r in Role],
            "errors": errors,
            "nav": "users",
            "removable": {a.id for a in target.roles if can(actor, Action.MANAGE_USERS, a.unit)},
        },
        status_code,
    )


@router.get("/users/{user_id}", name="user_page", include_in_schema=False)
def user_page(request: Request, db: Db, user: CurrentUser, user_id: int) -> Response:
    return _user_page(request, db, user, visible_user(db, user, user_id), {})


@router.post("/users/{user_id}", name="user_update", include_in_schema=False)
def user_update(
    request: Request,
    db: Db,
    user: CurrentUser,
    user_id: int,
    password: Text = "",
    is_active: Text = "",
) -> Response:
    target = visible_user(db, user, user_id)
    body = UserPatch(
        password=password or None, is_active=None if not is_active else is_active == "true"
    )
    try:
        patch(db, user, target, body)
    except ValidationFailed as error:
        db.rollback()
        return _user_page(
            request,
            db,
            user,
            visible_user(db, user, user_id),
            field_errors(error, request_locale(request)),
            422,
        )
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post("/users/{user_id}/roles", name="user_role_add", include_in_schema=False)
def user_role_add(
    request: Request,
    db: Db,
    user: CurrentUser,
    user_id: int,
    role: Text,
    unit_id: Annotated[int, Form()],
) -> Response:
    target = visible_user(db, user, user_id)
    svc.assign_role(db, user, target, _role(role), get_unit(db, unit_id))
    db.commit()
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post(
    "/users/{user_id}/roles/{assignment_id}/delete",
    name="user_role_remove",
    include_in_schema=False,
)
def user_role_remove(
    request: Request, db: Db, user: CurrentUser, user_id: int, assignment_id: int
) -> Response:
    target = visible_user(db, user, user_id)
    svc.revoke_role(db, user, target, assignment_id)
    db.commit()
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/users/{user_id}", status_code=303)


# --- JSON API ----------------------------------------------------------------------------------


@router.get("/api/users", response_model=list[UserOut], tags=["users"])
def api_users(db: Db, user: CurrentUser) -> list[UserOut]:
    """Users holding roles on units the caller manages."""
    require_anywhere(user, Action.MANAGE_USERS)
    return [user_out(u) for u in svc.list_users(db, user)]


@router.post("/api/users", response_model=UserOut, status_code=201, tags=["users"])
def api_user_create(db: Db, user: CurrentUser, body: UserIn) -> UserOut:
    return user_out(create(db, user, body))


@router.get("/api/users/{user_id}", response_model=UserOut, tags=["users"])
def api_user(db: Db, user: CurrentUser, user_id: int) -> UserOut:
    return user_out(visible_user(db, user, user_id))


@router.patch("/api/users/{user_id}", response_model=UserOut, tags=["users"])
def api_user_patch(db: Db, user: CurrentUser, user_id: int, body: UserPatch) -> UserOut:
    """Set a new password and/or activate or deactivate the user."""
    return user_out(patch(db, user, visible_user(db, user, user_id), body))


@router.post("/api/users/{user_id}/roles", response_model=UserOut, tags=["users"])
def api_user_role_add(db: Db, user: CurrentUser, user_id: int, body: RoleIn) -> UserOut:
    target = visible_user(db, user, user_id)
    svc.assign_role(db, user, target, _role(body.role), get_unit(db, body.unit_id))
    db.commit()
    return user_out(target)


@router.delete("/api/users/{user_id}/roles/{assignment_id}", response_model=UserOut, tags=["users"])
def api_user_role_remove(db: Db, user: CurrentUser, user_id: int, assignment_id: int) -> UserOut:
    target = visible_user(db, user, user_id)
    svc.revoke_role(db, user, target, assignment_id)
    db.commit()
    return user_out(target)
