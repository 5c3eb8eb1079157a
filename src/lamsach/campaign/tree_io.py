"""Import and export the unit tree as CSV or XLSX; an import with any error changes nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select
from sqlalchemy.orm import Session

from lamsach.campaign import audit
from lamsach.campaign.errors import ImportFailed, ImportIssue
from lamsach.campaign.permissions import Action, can, can_global
from lamsach.campaign.units import UnitFields, check_fields, move_unit, tree_order
from lamsach.storage.models import Unit, User

COLUMNS = (
    "code",
    "name",
    "kind",
    "parent_code",
    "contact_person",
    "contact_email",
    "contact_phone",
    "networks",
)
REQUIRED_COLUMNS = ("code", "name", "kind", "parent_code")
MAX_ROWS = 100_000


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    moved: int
    unchanged: int


def _export_rows(session: Session, root: Unit | None) -> list[list[str]]:
    stmt = select(Unit)
    if root is not None:
        stmt = stmt.where(Unit.path.like(root.path + "%"))
    units = tree_order(session.scalars(stmt).all())
    codes = {u.id: u.code for u in session.scalars(select(Unit))} if units else {}
    return [
        [
            u.code,
            u.name,
            u.kind,
            codes.get(u.parent_id, "") if u.parent_id else "",
            u.contact_person,
            u.contact_email,
            u.contact_phone,
            " ".join(u.networks or []),
        ]
        for u in units
    ]


def export_units_csv(session: Session, root: Unit | None = None) -> bytes:
    """UTF-8 with a byte-order mark, so Excel shows the Vietnamese names correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_export_rows(session, root))
    return buffer.getvalue().encode("utf-8-sig")


def export_units_xlsx(session: Session, root: Unit | None = None) -> bytes:
    # Write-only mode streams the rows: a 10,000-unit tree in about a second.
    book = Workbook(write_only=True)
    sheet = book.create_sheet("units")
    for letter, width in zip("ABCDEFGH", (18, 45, 12, 18, 30, 30, 16, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    sheet.append(list(COLUMNS))
    for row in _export_rows(session, root):
        # Text stored before control characters were kept out would make openpyxl refuse the
        # whole sheet: they are left out of the cell.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """Rows of cells from a CSV (comma or semicolon) or XLSX file; ImportFailed if unreadable."""
    try:
        if filename.lower().endswith((".xlsx", ".xlsm")):
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            sheet = book.worksheets[0]
            rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            book.close()
        else:
            text = data.decode("utf-8-sig")
            first = text.split("\n", 1)[0]
            delimiter = ";" if first.count(";") > first.count(",") else ","
            rows = [
                [c.strip() for c in row]
                for row in csv.reader(io.StringIO(text), delimiter=delimiter)
            ]
    except Exception as exc:  # every parser failure becomes a row-1 error for the user
        raise ImportFailed(
            [ImportIssue(1, "", "import.unreadable", {"value": str(exc)[:200]})]
        ) from exc
    return rows


def import_units(session: Session, actor: User | None, data: bytes, filename: str) -> ImportSummary:
    """Create or update units by code from a file; every error by row and column, or all applied."""
    table = read_table(data, filename)
    if not table or not any(table[0]):
        raise ImportFailed([ImportIssue(1, "", "import.empty")])
    header = [h.strip().lower() for h in table[0]]
    issues = [
        ImportIssue(1, col, "import.missing_column", {"value": col})
        for col in REQUIRED_COLUMNS
        if col not in header
    ]
    if issues:
        raise ImportFailed(issues)
    if len(table) - 1 > MAX_ROWS:
        raise ImportFailed([ImportIssue(1, "", "import.too_many_rows", {"max": MAX_ROWS})])
    index = {name: header.index(name) for name in COLUMNS if name in header}

    def get(row: list[str], name: str) -> str:
        position = index.get(name)
        return row[position] if position is not None and position < len(row) else ""

    existing = {u.code: u for u in session.scalars(select(Unit))}
    parsed: dict[str, tuple[int, UnitFields, str]] = {}
    for row_no, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        fields = UnitFields(
            code=get(row, "code"),
            name=get(row, "name"),
            kind=get(row, "kind"),
            contact_person=get(row, "contact_person"),
            contact_email=get(row, "contact_email"),
            contact_phone=get(row, "contact_phone"),
            networks=tuple(get(row, "networks").replace(";", " ").replace(",", " ").split()),
        )
        clean, problems = check_fields(fields)
        issues.extend(ImportIssue(row_no, p.field, p.code, p.params) for p in problems)
        if clean.code and clean.code in parsed:
            first = parsed[clean.code][0]
            issues.append(
                ImportIssue(
                    row_no, "code", "unit.duplicate_code", {"value": clean.code, "first_row": first}
                )
            )
            continue
        if clean.code:
            parsed[clean.code] = (row_no, clean, get(row, "parent_code").strip())
    if not parsed and not issues:
        raise ImportFailed([ImportIssue(1, "", "import.empty")])
    # The tree after the import: file rows override the database.
    code_of = {u.id: code for code, u in existing.items()}
    parent_of = {code: code_of.get(u.parent_id or 0, "") for code, u in existing.items()}
    current_parent = dict(parent_of)
    for code, (row_no, _, parent_code) in parsed.items():
        if parent_code and parent_code not in parsed and parent_code not in existing:
            issues.append(
                ImportIssue(row_no, "parent_code", "unit.bad_parent", {"value": parent_code})
            )
            continue
        parent_of[code] = parent_code
    for code, (row_no, _, _) in parsed.items():
        seen, current = {code}, parent_of.get(code, "")
        while current:
            if current in seen:
                issues.append(ImportIssue(row_no, "parent_code", "unit.cycle", {"value": code}))
                break
            seen.add(current)
            current = parent_of.get(current, "")
    if actor is not None:
        issues.extend(_permission_issues(actor, parsed, existing, parent_of, current_parent))
    if issues:
        raise ImportFailed(
            sorted(
                issues,
                key=lambda i: (i.row, COLUMNS.index(i.column) if i.column in COLUMNS else -1),
            )
        )
    with session.begin_nested():
        summary = _apply(session, parsed, existing, parent_of)
    audit.record(
        session, "unit.import", user=actor, target=filename[:255],
        detail={"created": summary.created, "updated": summary.updated, "moved": summary.moved},
    )  # fmt: skip
    return summary


def _permission_issues(
    actor: User,
    parsed: dict[str, tuple[int, UnitFields, str]],
    existing: dict[str, Unit],
    parent_of: dict[str, str],
    current_parent: dict[str, str],
) -> list[ImportIssue]:
    """The actor must manage the nearest existing unit above every created or changed unit."""

    def allowed(parent_code: str) -> bool:
        while parent_code and parent_code not in existing:
            parent_code = parent_of.get(parent_code, "")
        if not parent_code:
            return can_global(actor, Action.MANAGE_UNITS)
        return can(actor, Action.MANAGE_UNITS, existing[parent_code])

    found = []
    for code, (row_no, _, parent_code) in parsed.items():
        checks = [parent_code] + ([current_parent[code]] if code in existing else [])
        if not all(allowed(c) for c in checks):
            found.append(
                ImportIssue(
                    row_no,
                    "parent_code",
                    "permission.denied",
                    {"action": "manage_units", "unit": code},
                )
            )
    return found


def _apply(
    session: Session,
    parsed: dict[str, tuple[int, UnitFields, str]],
    existing: dict[str, Unit],
    parent_of: dict[str, str],
) -> ImportSummary:
    created = updated = moved = unchanged = 0

    def depth(code: str) -> int:
        level, current = 0, parent_of.get(code, "")
        while current:
            level, current = level + 1, parent_of.get(current, "")
        return level

    units = dict(existing)
    by_level: dict[int, list[str]] = {}
    for code in parsed:
        by_level.setdefault(depth(code), []).append(code)
    for level in sorted(by_level):
        fresh: list[tuple[Unit, Unit | None]] = []
        for code in by_level[level]:
            _, fields, parent_code = parsed[code]
            parent = units[parent_code] if parent_code else None
            unit = units.get(code)
            if unit is None:
                unit = Unit(
                    code=fields.code, path="", depth=0, parent_id=parent.id if parent else None
                )
                _fill(unit, fields)
                session.add(unit)
                units[code] = unit
                fresh.append((unit, parent))
                continue
            before = _snapshot(unit)
            _fill(unit, fields)
            if (unit.parent_id or None) != (parent.id if parent else None):
                # The identity map keeps the same objects: they reload their new paths when read.
                units[code] = move_unit(session, None, unit, parent)
                moved += 1
            elif before != _snapshot(unit):
                updated += 1
            else:
                unchanged += 1
        # One flush per level gives the new units their ids (batched inserts), then their paths.
        session.flush()
        for unit, parent in fresh:
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
            unit.depth = parent.depth + 1 if parent else 0
        created += len(fresh)
    session.flush()
    return ImportSummary(created=created, updated=updated, moved=moved, unchanged=unchanged)


def _snapshot(unit: Unit) -> tuple[object, ...]:
    return (
        unit.name,
        unit.kind,
        unit.contact_person,
        unit.contact_email,
        unit.contact_phone,
        list(unit.networks or []),
    )


def _fill(unit: Unit, fields: UnitFields) -> None:
    unit.name, unit.kind = fields.name, fields.kind
    unit.contact_person, unit.contact_email = fields.contact_person, fields.contact_email
    unit.contact_phone, unit.networks = fields.contact_phone, list(fields.networks)
