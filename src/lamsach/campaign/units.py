"""The organisation tree: create, edit, move, delete units; subtree queries by materialised path."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from lamsach.campaign import audit
from lamsach.campaign.errors import Conflict, Issue, NotFound, ValidationFailed
from lamsach.campaign.permissions import Action, PermissionDenied, can, can_global
from lamsach.campaign.text import one_line
from lamsach.storage.models import CampaignUnit, Report, RoleAssignment, Unit, User

# Kinds the interface names; any other lower-case slug is accepted (the hierarchy is data).
KNOWN_KINDS: dict[str, tuple[str, str]] = {
    "country": ("Quốc gia", "Country"),
    "ministry": ("Bộ, ngành", "Ministry"),
    "province": ("Tỉnh, thành phố trực thuộc TW", "Province"),
    "department_province": ("Sở, ban, ngành", "Provincial department"),
    "city": ("Thành phố, thị xã, huyện", "City / district"),
    "department": ("Phòng, ban", "Department"),
    "ward": ("Phường", "Ward"),
    "commune": ("Xã", "Commune"),
    "town": ("Thị trấn", "Town"),
    "agency": ("Cơ quan, đơn vị", "Agency"),
    "school": ("Trường học", "School"),
    "hospital": ("Bệnh viện, trạm y tế", "Hospital / health station"),
    "enterprise": ("Doanh nghiệp", "Enterprise"),
    "other": ("Khác", "Other"),
}

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+() .-]{3,64}$")


@dataclass(frozen=True)
class UnitFields:
    """The editable attributes of a unit, as entered (validated by ``check_fields``)."""

    code: str
    name: str
    kind: str
    contact_person: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    networks: tuple[str, ...] = ()


def parse_networks(text: str | Iterable[str]) -> list[str]:
    """CIDRs (or single addresses) separated by spaces, commas, semicolons or new lines.

    Returns canonical networks; raises ValueError naming the first bad entry.
    """
    items = re.split(r"[\s,;]+", text) if isinstance(text, str) else list(text)
    result: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise ValueError(item) from exc
        if str(network) not in result:
            result.append(str(network))
    return result


def check_fields(fields: UnitFields) -> tuple[UnitFields, list[Issue]]:
    """Normalise the fields and list every problem (field names are the attribute names)."""
    issues: list[Issue] = []
    code, name, kind = fields.code.strip(), one_line(fields.name), fields.kind.strip()
    if not code:
        issues.append(Issue("code", "field.required"))
    elif not CODE_RE.match(code):
        issues.append(Issue("code", "unit.bad_code", {"value": code}))
    if not name:
        issues.append(Issue("name", "field.required"))
    elif len(name) > 255:
        issues.append(Issue("name", "field.too_long", {"max": 255}))
    kind = kind.lower()
    if not kind:
        issues.append(Issue("kind", "field.required"))
    elif not KIND_RE.match(kind):
        issues.append(Issue("kind", "unit.bad_kind", {"value": kind}))
    email = fields.contact_email.strip()
    if email and not EMAIL_RE.match(email):
        issues.append(Issue("contact_email", "field.bad_email", {"value": email}))
    phone = fields.contact_phone.strip()
    if phone and not PHONE_RE.match(phone):
        issues.append(Issue("contact_phone", "field.bad_phone", {"value": phone}))
    networks: list[str] = []
    try:
        networks = parse_networks(fields.networks)
    except ValueError as exc:
        issues.append(Issue("networks", "unit.bad_network", {"value": str(exc)}))
    clean = UnitFields(
        code=code,
        name=name,
        kind=kind,
        contact_person=one_line(fields.contact_person),
        contact_email=email,
        contact_phone=phone,
        networks=tuple(networks),
    )
    return clean, issues


def get_unit(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unit.not_found", id=unit_id)
    return unit


def get_unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound("unit.not_found", code=code)
    return unit


def _require_manage(actor: User | None, parent: Unit | None) -> None:
    """Units are managed by administrators of the parent's subtree; ``None`` is the system."""
    if actor is None:
        return
    allowed = (
        can(actor, Action.MANAGE_UNITS, parent)
        if parent is not None
        else can_global(actor, Action.MANAGE_UNITS)
    )
    if not allowed:
        raise PermissionDenied(
            "permission.denied",
            action=Action.MANAGE_UNITS.value,
            unit=parent.code if parent else "",
        )


def create_unit(
    session: Session, actor: User | None, fields: UnitFields, parent: Unit | None
) -> Unit:
    """Add a unit under ``parent`` (a root unit when None). ``actor=None`` means the system."""
    _require_manage(actor, parent)
    clean, issues = check_fields(fields)
    if not issues and session.scalar(select(Unit.id).where(Unit.code == clean.code)) is not None:
        issues.append(Issue("code", "unit.code_taken", {"value": clean.code}))
    if issues:
        raise ValidationFailed(issues)
    unit = Unit(
        code=clean.code,
        name=clean.name,
        kind=clean.kind,
        parent_id=parent.id if parent else None,
        contact_person=clean.contact_person,
        contact_email=clean.contact_email,
        contact_phone=clean.contact_phone,
        networks=list(clean.networks),
        path="",
        depth=0,
    )
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    unit.depth = parent.depth + 1 if parent else 0
    session.flush()
    audit.record(session, "unit.create", user=actor, target=unit.code)
    return unit


def update_unit(session: Session, actor: User | None, unit: Unit, fields: UnitFields) -> Unit:
    """Change a unit's attributes (not its place in the tree: see ``move_unit``)."""
    _require_manage(actor, unit)
    clean, issues = check_fields(fields)
    if not issues and clean.code != unit.code:
        taken = session.scalar(select(Unit.id).where(Unit.code == clean.code, Unit.id != unit.id))
        if taken is not None:
            issues.append(Issue("code", "unit.code_taken", {"value": clean.code}))
    if issues:
        raise ValidationFailed(issues)
    unit.code, unit.name, unit.kind = clean.code, clean.name, clean.kind
    unit.contact_person, unit.contact_email = clean.contact_person, clean.contact_email
    unit.contact_phone, unit.networks = clean.contact_phone, list(clean.networks)
    session.flush()
    audit.record(session, "unit.update", user=actor, target=unit.code)
    return unit


def move_unit(session: Session, actor: User | None, unit: Unit, new_parent: Unit | None) -> Unit:
    """Re-attach ``unit`` and its whole subtree under ``new_parent`` in one UPDATE."""
    _require_manage(actor, unit.parent)
    _require_manage(actor, new_parent)
    if new_parent is not None and new_parent.path.startswith(unit.path):
        raise ValidationFailed([Issue("parent", "unit.cycle", {"value": new_parent.code})])
    old_path = unit.path
    new_path = f"{new_parent.path if new_parent else '/'}{unit.id}/"
    shift = (new_parent.depth + 1 if new_parent else 0) - unit.depth
    session.flush()
    session.execute(
        update(Unit)
        .where(Unit.path.like(old_path + "%"))
        .values(
            path=literal(new_path) + func.substr(Unit.path, len(old_path) + 1),
            depth=Unit.depth + shift,
        )
        .execution_options(synchronize_session=False)
    )
    unit.parent_id = new_parent.id if new_parent else None
    session.flush()
    session.expire_all()
    audit.record(
        session,
        "unit.move",
        user=actor,
        target=unit.code,
        detail={"parent": new_parent.code if new_parent else None},
    )
    return get_unit(session, unit.id)


def delete_unit(session: Session, actor: User | None, unit: Unit) -> None:
    """Remove a leaf unit that owes no report and holds no role; anything else is refused."""
    _require_manage(actor, unit.parent)
    if session.scalar(select(func.count()).where(Unit.parent_id == unit.id)):
        raise Conflict("unit.has_children", unit=unit.code)
    used = (
        session.scalar(select(func.count()).where(Report.unit_id == unit.id))
        or session.scalar(select(func.count()).where(CampaignUnit.unit_id == unit.id))
        or session.scalar(select(func.count()).where(RoleAssignment.unit_id == unit.id))
    )
    if used:
        raise Conflict("unit.in_use", unit=unit.code)
    code = unit.code
    session.delete(unit)
    session.flush()
    audit.record(session, "unit.delete", user=actor, target=code)


def subtree(session: Session, root: Unit, *, include_root: bool = True) -> list[Unit]:
    """Every unit under ``root`` in one indexed query, in tree order (siblings by name)."""
    stmt = select(Unit).where(Unit.path.like(root.path + "%"))
    if not include_root:
        stmt = stmt.where(Unit.id != root.id)
    return tree_order(session.scalars(stmt).all())


def children(session: Session, unit: Unit) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.name)))


def roots(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.name)))


def ancestor_ids(unit: Unit) -> list[int]:
    """Ids from the root down to the unit's parent, read from the path."""
    return [int(part) for part in unit.path.strip("/").split("/")[:-1] if part]


def ancestors(session: Session, unit: Unit) -> list[Unit]:
    ids = ancestor_ids(unit)
    if not ids:
        return []
    found = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def is_within(unit: Unit, root: Unit) -> bool:
    return unit.path.startswith(root.path)


def tree_order(units: Sequence[Unit]) -> list[Unit]:
    """Pre-order (parent before children, siblings by name) of any set of units, in one pass."""
    by_parent: dict[int | None, list[Unit]] = {}
    ids = {u.id for u in units}
    for unit in units:
        key = unit.parent_id if unit.parent_id in ids else None
        by_parent.setdefault(key, []).append(unit)
    for group in by_parent.values():
        group.sort(key=lambda u: (u.name.casefold(), u.code))
    ordered: list[Unit] = []
    stack = list(reversed(by_parent.get(None, [])))
    while stack:
        unit = stack.pop()
        ordered.append(unit)
        stack.extend(reversed(by_parent.get(unit.id, [])))
    return ordered


def unit_for_address(session: Session, address: str) -> Unit | None:
    """The unit whose declared network most specifically contains ``address`` (None if none)."""
    ip = ipaddress.ip_address(address)
    best: tuple[int, Unit] | None = None
    for unit in session.scalars(select(Unit)):
        for text in unit.networks or []:
            network = ipaddress.ip_network(text)
            if (
                network.version == ip.version
                and ip in network
                and (best is None or network.prefixlen > best[0])
            ):
                best = (network.prefixlen, unit)
    return best[1] if best else None
