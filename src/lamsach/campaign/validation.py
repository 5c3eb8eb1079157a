"""Checking a report's values against its template: types, ranges, required rows, rules."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping

from lamsach.campaign.errors import Issue
from lamsach.campaign.templates import TemplateDef

Value = int | str | None

MAX_COUNT = 10**12
MAX_TEXT = 20_000
_OPS: dict[str, Callable[[int, int], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}
_RULE_CODES = {"<=": "rule.le", "<": "rule.lt", ">=": "rule.ge", ">": "rule.gt", "==": "rule.eq"}
# Digits grouped by Vietnamese (.) or English (,) thousands separators, or by spaces.
_GROUPED = re.compile(r"^\d{1,3}([.,\s\u00a0]\d{3})+$")


def parse_count(text: str) -> int:
    """A whole number as people type it: "1234", "1.234", "1,234", "1 234". Raises ValueError."""
    cleaned = text.strip()
    if cleaned.isdigit():
        return int(cleaned)
    if _GROUPED.match(cleaned):
        return int(re.sub(r"[.,\s\u00a0]", "", cleaned))
    if cleaned.startswith("-") and cleaned[1:].strip().isdigit():
        return -int(cleaned[1:].strip())
    raise ValueError(text)


def coerce_values(
    definition: TemplateDef, raw: Mapping[str, object]
) -> tuple[dict[str, Value], list[Issue]]:
    """Turn form input (strings, numbers, None) into typed values; unknown rows are refused."""
    values: dict[str, Value] = {}
    issues: list[Issue] = []
    for code, given in raw.items():
        if not definition.has_row(code):
            issues.append(Issue(code, "value.unknown_row"))
            continue
        row = definition.row(code)
        if given is None or (isinstance(given, str) and not given.strip()):
            values[code] = None
            continue
        if row.type == "text":
            text = str(given).strip()
            if len(text) > MAX_TEXT:
                issues.append(Issue(code, "field.too_long", {"max": MAX_TEXT}))
            values[code] = text
            continue
        if isinstance(given, bool):
            issues.append(Issue(code, "value.not_integer", {"value": str(given)}))
        elif isinstance(given, int):
            values[code] = given
        elif isinstance(given, float) and given.is_integer():
            values[code] = int(given)
        else:
            try:
                values[code] = parse_count(str(given))
            except ValueError:
                issues.append(Issue(code, "value.not_integer", {"value": str(given)}))
    return values, issues


def validate_values(
    definition: TemplateDef, values: Mapping[str, Value], *, complete: bool = False
) -> list[Issue]:
    """Every problem with ``values``; ``complete=True`` (submission) also needs required rows."""
    issues: list[Issue] = []
    for row in definition.rows:
        value = values.get(row.code)
        if value is None:
            if complete and row.required:
                issues.append(Issue(row.code, "value.required"))
            continue
        if row.type == "count":
            if not isinstance(value, int):
                issues.append(Issue(row.code, "value.not_integer", {"value": str(value)}))
            elif value < 0:
                issues.append(Issue(row.code, "value.negative", {"value": value}))
            elif value > MAX_COUNT:
                issues.append(Issue(row.code, "value.too_large", {"max": MAX_COUNT}))
    bad = {issue.field for issue in issues}
    for rule in definition.rules:
        left, right = values.get(rule.left), values.get(rule.right)
        if not isinstance(left, int) or not isinstance(right, int):
            continue
        if rule.left in bad or rule.right in bad:
            continue
        if not _OPS[rule.op](left, right):
            other = definition.row(rule.right)
            issues.append(
                Issue(
                    rule.left,
                    _RULE_CODES[rule.op],
                    {
                        "value": left,
                        "other": rule.right,
                        "other_value": right,
                        "other_label_vi": other.label_vi,
                        "other_label_en": other.label_en,
                    },
                )
            )
    return issues
