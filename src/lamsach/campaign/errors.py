"""Errors of the campaign domain: each carries a stable code and params the web layer translates."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class Issue:
    """A problem with one field (a row code or attribute name); ``code`` is a message id."""

    field: str
    code: str
    params: dict[str, Any] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class ImportIssue:
    """A problem in an imported file: 1-based sheet row (the header is row 1) and column."""

    row: int
    column: str
    code: str
    params: dict[str, Any] = dc_field(default_factory=dict)


class DomainError(Exception):
    """Base of every refusal by a domain rule; ``code`` is a message id (see messages.py)."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(f"{code} {params}" if params else code)


class NotFound(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class InvalidState(DomainError):
    """The action does not fit the object's state (e.g. approving a draft, editing when locked)."""


class Conflict(DomainError):
    """Someone else changed the object first, or a unique value is taken."""


class ValidationFailed(DomainError):
    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("validation.failed", count=len(issues))


class ImportFailed(DomainError):
    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        super().__init__("import.failed", count=len(issues))
