"""My tasks: the forms a user's units owe (due, overdue, returned) and reports to review."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from lamsach.campaign.tasks import tasks_for
from lamsach.web.deps import CurrentUser, Db, render
from lamsach.web.schemas import TaskOut, task_out

router = APIRouter()


@router.get("/tasks", name="tasks_page", include_in_schema=False)
def tasks_page(request: Request, db: Db, user: CurrentUser) -> Response:
    tasks = tasks_for(db, user)
    groups = {
        kind: [t for t in tasks if t.kind == kind]
        for kind in ("returned", "overdue", "due", "review")
    }
    return render(request, "tasks.html", {"groups": groups, "nav": "tasks", "total": len(tasks)})


@router.get("/api/tasks", response_model=list[TaskOut], tags=["tasks"])
def api_tasks(db: Db, user: CurrentUser) -> list[TaskOut]:
    """Forms due, overdue or returned for the user's units, then reports waiting for review."""
    return [task_out(t) for t in tasks_for(db, user)]
