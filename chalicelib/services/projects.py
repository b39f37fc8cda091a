"""The project registry (DESIGN §4d): public reads, admin writes with their action-log
entries, the summary, and the overlap and omission checks, each from one read of the
registry (plus, for the omissions, one of the KPI store's figures)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from chalicelib.domain import project_overlaps as overlaps
from chalicelib.domain import projects as rules
from chalicelib.domain.clock import Clock
from chalicelib.domain.projects import (
    LoadResult,
    Project,
    ProjectChanged,
    ProjectDraft,
    ProjectExists,
    ProjectFilter,
    Summary,
)
from chalicelib.domain.staff_actions import Actor, StaffAction
from chalicelib.errors import Conflict, NotFound, RetryableConflict, Unprocessable
from chalicelib.services.ports import ServiceFigures

ATTEMPTS = 3


class ProjectStore(Protocol):
    def all(self) -> list[Project]: ...
    def get(self, project_id: str, *, consistent: bool = False) -> Project | None: ...
    def create(self, project: Project, action: StaffAction) -> None:
        """Raises ProjectExists when the id is taken."""

    def replace(self, project: Project, action: StaffAction) -> None:
        """Raises ProjectChanged when the stored version is no longer `project.version`."""


@dataclass(frozen=True)
class Checks:
    """The overlap check's answer: flagged pairs, unmeasured projects, when computed."""

    pairs: list[overlaps.Pair]
    unmeasured: list[overlaps.Unmeasured]
    computed_at: datetime


class ProjectService:
    def __init__(
        self,
        store: ProjectStore,
        figures: ServiceFigures,
        districts: Iterable[str],
        clock: Clock,
    ) -> None:
        self._store = store
        self._figures = figures
        self._districts = tuple(districts)
        self._clock = clock

    # -- reads (public)

    def projects(self, which: ProjectFilter) -> list[Project]:
        return [p for p in self._store.all() if which.keeps(p)]

    def project(self, project_id: str) -> Project:
        found = self._store.get(project_id) if rules.PROJECT_ID.fullmatch(project_id) else None
        if found is None:
            raise NotFound("no such project", code="project_not_found")
        return found

    def summary(self) -> Summary:
        return rules.summarize(self._store.all())

    def checks(self) -> Checks:
        every = self._store.all()
        return Checks(
            overlaps.overlapping_pairs(every, self._districts),
            overlaps.unmeasured(every, self._figures.measured_services()),
            self._clock(),
        )

    # -- writes (admin)

    def create(self, project_id: str, draft: ProjectDraft, by: Actor) -> Project:
        """201 with the project; 409 `project_exists` when the id is taken."""
        now = self._clock()
        project = rules.draft_to_project(
            draft, rules.valid_id(project_id), self._districts, created_at=now, updated_at=now
        )
        try:
            self._store.create(project, rules.create_action(project, by))
        except ProjectExists as e:
            raise Conflict(
                "a project of that id is registered already",
                code="project_exists",
                details=[{"project_id": project_id}],
            ) from e
        return replace(project, version=1)

    def replace(
        self, project_id: str, draft: ProjectDraft, by: Actor, read_version: int | None = None
    ) -> Project:
        """The whole project replaced (its id and creation kept); 404 when unknown. With the
        version the caller read (`If-Match`), a project changed since is a 409
        `project_changed` naming the version now stored; without it a replace racing another
        re-reads and applies on top (the last writer wins, each logged with what it changed)."""
        for _ in range(ATTEMPTS):
            before = self._store.get(project_id, consistent=True)
            if before is None:
                raise NotFound("no such project", code="project_not_found")
            if read_version is not None and before.version != read_version:
                raise Conflict(
                    "the project changed since it was read: read it again",
                    code="project_changed",
                    details=[{"version": before.version}],
                )
            after = rules.draft_to_project(
                draft,
                project_id,
                self._districts,
                created_at=before.created_at,
                updated_at=self._clock(),
                version=before.version,
            )
            try:
                self._store.replace(after, rules.replace_action(before, after, by))
            except ProjectChanged:
                continue
            return replace(after, version=(before.version or 0) + 1)
        raise RetryableConflict(f"replace project {project_id}")

    def load(self, drafts: list[tuple[str, ProjectDraft]], by: Actor, source: str) -> LoadResult:
        """Register each project whose id is new; keep those already registered as they are
        (the city may have edited them): loading twice changes nothing. Every project is
        judged first, so a bad file registers none."""
        now = self._clock()
        judged: list[Project] = []
        problems: list[dict[str, object]] = []
        for pid, draft in drafts:
            try:
                judged.append(
                    rules.draft_to_project(
                        draft, rules.valid_id(pid), self._districts, created_at=now, updated_at=now
                    )
                )
            except Unprocessable as e:
                problems += [{"project_id": pid, **detail} for detail in e.details]
        if problems:
            raise Unprocessable(
                "projects are not acceptable", code="invalid_project", details=problems
            )
        result = LoadResult()
        known = {p.project_id for p in self._store.all()}
        for project in judged:
            if project.project_id in known:
                result.kept.append(project.project_id)
                continue
            try:
                self._store.create(project, rules.create_action(project, by, source))
            except ProjectExists:
                result.kept.append(project.project_id)
                continue
            result.created.append(project.project_id)
        return result
