"""DynamoDB adapter for the project registry: one partition per city (the model's `city`),
read whole by one Query (the list, the summary and the overlap check each read it once),
one project by GetItem; a registration or a replace is one transaction with its action-log
entry, the registration conditioned on the id being new, the replace on the version read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamodb_models import Project as Item
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain.projects import Project, ProjectChanged, ProjectExists
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.errors import RetryableConflict


class DynamoDbProjects:
    def __init__(self, city: str) -> None:
        self._city = city

    def all(self) -> list[Project]:
        """Every project of the city, by id: one Query (more only past 1 MB)."""
        return [from_item(item) for item in self._query()]

    def _query(self) -> Iterator[Item]:
        yield from Item.query(self._city)

    def get(self, project_id: str, *, consistent: bool = False) -> Project | None:
        try:
            return from_item(Item.get(self._city, project_id, consistent_read=consistent))
        except DoesNotExist:
            return None

    def create(self, project: Project, action: StaffAction) -> None:
        """Raises ProjectExists when the id is taken."""
        self._write(project, action, Item.project_id.does_not_exist(), ProjectExists)

    def replace(self, project: Project, action: StaffAction) -> None:
        """`project` in place of the stored one of its `version`; raises ProjectChanged when
        it moved on meanwhile (or is gone)."""
        self._write(project, action, Item.project_id.exists(), ProjectChanged)

    def _write(
        self,
        project: Project,
        action: StaffAction,
        condition: Condition,
        refused: type[Exception],
    ) -> None:
        """The project (its version condition added by PynamoDB's save) and its action-log
        entry in one transaction; `refused` when the project's condition fails."""
        tx = NamedTransaction()
        tx.put("project", to_item(self._city, project), condition)
        put_in(tx, action)
        try:
            tx.commit()
        except ConditionsFailed as e:
            if "project" in e.names:
                raise refused(project.project_id) from e
            raise RetryableConflict(f"project {project.project_id}: {sorted(e.names)}") from e


def to_item(city: str, p: Project) -> Item:
    """The item; with the version read, PynamoDB's save conditions on it and moves it on."""
    item = Item(
        city,
        p.project_id,
        name=p.name,
        field=p.field,
        department=p.department,
        funding=p.funding,
        budget_krw=dict(p.budget_krw),
        starts_on=p.starts_on.isoformat(),
        ends_on=p.ends_on.isoformat(),
        districts=list(p.districts),
        status=p.status,
        services=list(p.services),
        notes=p.notes,
        sample=p.sample,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )
    if p.version is not None:
        item.version = p.version
    return item


def from_item(item: Item) -> Project:
    return Project(
        project_id=item.project_id,
        name=item.name,
        field=item.field,
        department=item.department,
        funding=item.funding,  # type: ignore[arg-type]
        budget_krw={str(k): int(v) for k, v in item.budget_krw.as_dict().items()},
        starts_on=date.fromisoformat(item.starts_on),
        ends_on=date.fromisoformat(item.ends_on),
        districts=tuple(item.districts or ()),
        status=item.status,  # type: ignore[arg-type]
        services=tuple(item.services or ()),
        notes=item.notes or "",
        sample=bool(item.sample),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=None if item.version is None else int(item.version),
    )
