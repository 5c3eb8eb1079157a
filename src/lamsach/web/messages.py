"""Error texts for pages and the API: the domain's message ids in the request's language."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lamsach.campaign import messages as domain_messages
from lamsach.campaign.errors import DomainError, ImportFailed, ImportIssue, Issue, ValidationFailed
from lamsach.web.i18n import _, gettext

# Message ids of the web layer itself (the domain's own ids live in campaign/messages.py).
WEB_MESSAGES: dict[str, str] = {
    "csrf.rejected": _("The form has expired or did not come from this portal; reload the page."),
    "request.invalid": _("The request is not valid."),
    "page.not_found": _("This page does not exist."),
    "date.invalid": _("Enter the date as dd/mm/yyyy."),
    "login.failed": _("Wrong username or password."),
    "login.throttled": _("Too many failed logins; try again in a few minutes."),
    "upload.too_large": _("The file is too large (at most %(limit)s)."),
    "upload.bad_type": _("Upload a CSV or XLSX file."),
}


def translate(locale: str, code: str, params: dict[str, Any]) -> str:
    if code in WEB_MESSAGES:
        return gettext(locale, WEB_MESSAGES[code], **params)
    return domain_messages.message(code, params, locale)


def issue_text(issue: Issue | ImportIssue, locale: str) -> str:
    if issue.code in WEB_MESSAGES:
        return translate(locale, issue.code, issue.params)
    return domain_messages.issue_message(issue, locale)


def error_body(error: DomainError, locale: str) -> dict[str, Any]:
    """The JSON answer for a refused action: code, message and, where there are, the issues."""
    body: dict[str, Any] = {
        "error": error.code,
        "message": domain_messages.error_message(error, locale),
        "params": jsonable(error.params),
    }
    if isinstance(error, ValidationFailed):
        body["issues"] = [
            {
                "field": issue.field,
                "code": issue.code,
                "message": issue_text(issue, locale),
            }
            for issue in error.issues
        ]
    if isinstance(error, ImportFailed):
        body["issues"] = [
            {
                "row": issue.row,
                "column": issue.column,
                "code": issue.code,
                "message": issue_text(issue, locale),
            }
            for issue in error.issues
        ]
    return body


def field_errors(error: ValidationFailed, locale: str) -> dict[str, list[str]]:
    """Issues grouped by field (row code or attribute), for showing beside each input."""
    grouped: dict[str, list[str]] = {}
    for issue in error.issues:
        grouped.setdefault(issue.field, []).append(issue_text(issue, locale))
    return grouped


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def quote_next(path: str) -> str:
    return quote(path, safe="")
