"""The project registry over HTTP (DESIGN §4d): public reads (city transparency), the
summary and the overlap and omission checks; admin writes, each in the action log."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import (
    actor,
    answers,
    api_view,
    parse_body,
    query_enum,
    query_str,
    require_role,
)
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power
from chalicelib.errors import BadRequest

if TYPE_CHECKING:
    from chalicelib.api.project_schemas import ProjectContent
    from chalicelib.domain.project_overlaps import Pair, Reason, Unmeasured
    from chalicelib.domain.projects import Project, ProjectDraft, Summary

bp = Blueprint(__name__)

_YEAR: Final = re.compile(r"[0-9]{4}")


@bp.route("/v1/projects", methods=["GET"])
@api_view
@answers("project_schemas:ProjectList")
def list_projects() -> dict[str, Any]:
    """List the city's smart projects, by id.

    Filters: `field` (a field's code), `status`, `year` (projects whose period touches that
    calendar year, which includes every project budgeted that year).
    """
    from chalicelib.domain import projects
    from chalicelib.domain.projects import ProjectFilter

    request = bp.current_request
    field = query_enum(request, "field", projects.FIELD_CODES, "")
    status = query_enum(request, "status", projects.STATUSES, "")
    year = query_str(request, "year", max_length=4)
    if year is not None and not _YEAR.fullmatch(year):
        raise BadRequest("year is a calendar year, YYYY", code="invalid_query")
    which = ProjectFilter(field or None, status or None, int(year) if year else None)
    return {"projects": [project_view(p) for p in wiring.projects().projects(which)]}


@bp.route("/v1/projects/summary", methods=["GET"])
@api_view
@answers("project_schemas:ProjectSummary")
def project_summary() -> dict[str, Any]:
    """Count the projects and their budgets by field, year, funding and status.

    Every field, funding and status is listed (with 0 when none); `by_year` lists the years
    any budget names, each with the projects budgeted that year.
    """
    return summary_view(wiring.projects().summary())


@bp.route("/v1/projects/overlaps", methods=["GET"])
@api_view
@answers("project_schemas:ProjectOverlaps")
def project_overlaps() -> dict[str, Any]:
    """Flag projects that may duplicate each other, and projects without figures.

    A pair is flagged when both are in one field, share a district (none: city-wide), share
    days of their periods and have similar names (docs/projects.md); each with its reasons.
    `unmeasured`: projects under way or done running a service with no figures.
    """
    checks = wiring.projects().checks()
    return {
        "pairs": [pair_view(pair) for pair in checks.pairs],
        "unmeasured": [unmeasured_view(u) for u in checks.unmeasured],
        "computed_at": iso(checks.computed_at),
    }


@bp.route("/v1/projects/{project_id}", methods=["GET"])
@api_view
@answers("project_schemas:Project")
def get_project(project_id: str) -> Response:
    """Read one project; its `ETag` is the version a replace may name in `If-Match`."""
    found = wiring.projects().project(project_id)
    return Response(body=project_view(found), headers=_etag(found))


@bp.route("/v1/admin/projects", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("project_schemas:Project")
def post_project() -> Response:
    """Register a project under the id given (admin).

    201 with the project; 409 `project_exists` when the id is taken; 422 `invalid_project`
    naming every broken rule.
    """
    from chalicelib.api.project_schemas import NewProject

    request = bp.current_request
    who = require_role(request, Power.PROJECTS)
    body = parse_body(request, NewProject)
    made = wiring.projects().create(body.project_id, draft_of(body), actor(who))
    return Response(body=project_view(made), status_code=201, headers=_etag(made))


@bp.route("/v1/admin/projects/{project_id}", methods=["PUT"], authorizer=jwt_auth)
@api_view
@answers("project_schemas:Project")
def put_project(project_id: str) -> Response:
    """Replace a project whole (admin): every field as for registering, but the id.

    404 when no such project; the action log keeps what changed, before and after. With
    `If-Match: "<version>"` (the `ETag` of the read the edit started from), a project
    changed since is a 409 `project_changed`, so two admins editing one read never lose a
    change silently; without it the last writer wins.
    """
    from chalicelib.api.project_schemas import ProjectContent

    request = bp.current_request
    who = require_role(request, Power.PROJECTS)
    read = _if_match(request.headers.get("if-match"))
    body = parse_body(request, ProjectContent)
    after = wiring.projects().replace(project_id, draft_of(body), actor(who), read)
    return Response(body=project_view(after), headers=_etag(after))


_ETAG = re.compile(r'(?:W/)?"([0-9]{1,12})"')


def _if_match(value: str | None) -> int | None:
    """The version named by `If-Match` (`"3"`, or weak `W/"3"`); none or `*`: any version."""
    if value is None or value.strip() == "*":
        return None
    found = _ETAG.fullmatch(value.strip())
    if found is None:
        raise BadRequest(
            'If-Match names one version as the ETag gave it, e.g. "3"', code="invalid_header"
        )
    return int(found.group(1))


def _etag(p: Project) -> dict[str, str | list[str]]:
    """The project's version as its entity tag (RFC 9110), what `If-Match` names back."""
    return {"ETag": f'"{p.version or 0}"'}


def draft_of(body: ProjectContent) -> ProjectDraft:
    from chalicelib.domain.projects import ProjectDraft

    return ProjectDraft(
        name=body.name,
        field=body.field,
        department=body.department,
        funding=body.funding,
        budget_krw=body.budget_krw,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        districts=tuple(body.districts),
        status=body.status,
        services=tuple(body.services),
        notes=body.notes,
        sample=body.sample,
    )


def project_view(p: Project) -> dict[str, Any]:
    from chalicelib.domain.projects import field_name, recorded

    return {
        "project_id": p.project_id,
        **recorded(p),
        "field_name": field_name(p.field),
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
    }


def summary_view(s: Summary) -> dict[str, Any]:
    from chalicelib.domain.projects import field_name

    return {
        "projects": s.projects,
        "budget_krw": s.budget_krw,
        "by_field": [
            {
                "field": t.key,
                "field_name": field_name(t.key),
                "projects": t.projects,
                "budget_krw": t.budget_krw,
            }
            for t in s.by_field
        ],
        "by_year": [
            {"year": t.key, "projects": t.projects, "budget_krw": t.budget_krw} for t in s.by_year
        ],
        "by_funding": [
            {"funding": t.key, "projects": t.projects, "budget_krw": t.budget_krw}
            for t in s.by_funding
        ],
        "by_status": [
            {"status": t.key, "projects": t.projects, "budget_krw": t.budget_krw}
            for t in s.by_status
        ],
    }


def _reason(r: Reason) -> dict[str, Any]:
    return {"code": r.code, "message": r.message, **r.data}


def pair_view(pair: Pair) -> dict[str, Any]:
    from chalicelib.domain.projects import field_name

    return {
        "project_ids": [pair.first.project_id, pair.second.project_id],
        "names": [pair.first.name, pair.second.name],
        "field": pair.first.field,
        "field_name": field_name(pair.first.field),
        "reasons": [_reason(r) for r in pair.reasons],
        "similarity": pair.similarity,
    }


def unmeasured_view(u: Unmeasured) -> dict[str, Any]:
    return {
        "project_id": u.project.project_id,
        "name": u.project.name,
        "services": list(u.services),
        "reasons": [{"code": r.code, "message": r.message} for r in u.reasons],
    }
