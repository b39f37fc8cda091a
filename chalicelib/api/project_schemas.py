"""The project registry's request bodies and answers (DESIGN §4d). Requests check types only
(a budget given as `"5"`, `5.0` or `true` is a 400); the rules are
chalicelib.domain.projects', one 422 `invalid_project` naming every broken one. The status
and funding are closed sets here already (a 422 `validation_failed` naming the values)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from chalicelib.api.common_schemas import Answer, District, Funding, Instant, ProjectField
from chalicelib.api.common_schemas import ProjectStatus as Status

Day = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Year = Annotated[str, Field(pattern=r"^[0-9]{4}$")]


class ProjectContent(BaseModel):
    """A project as an admin writes it: every field (a PUT replaces the whole project)."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    field: StrictStr
    department: StrictStr
    funding: Literal["national", "city"]
    budget_krw: Annotated[dict[StrictStr, StrictInt], Field(max_length=101)]
    starts_on: StrictStr
    ends_on: StrictStr
    districts: Annotated[list[StrictStr], Field(max_length=50)] = []
    status: Literal["planned", "in_progress", "done"] = "planned"
    services: Annotated[list[StrictStr], Field(max_length=50)] = []
    notes: StrictStr | None = None
    sample: StrictBool = False


class NewProject(ProjectContent):
    """A project to register, under an id its registrar chooses."""

    project_id: StrictStr


class SampleRegistry(BaseModel):
    """A registry file (infra/data/projects-sample.json): its projects, loaded as they are."""

    model_config = ConfigDict(extra="allow")
    projects: list[NewProject]


# -- Answers ------------------------------------------------------------------------------


class Project(Answer):
    project_id: str
    name: str
    field: ProjectField
    field_name: Annotated[
        str, Field(description="the field's Korean name, e.g. 환경·에너지·수자원")
    ]
    department: str
    funding: Funding
    budget_krw: Annotated[dict[str, int], Field(description="whole KRW by calendar year")]
    starts_on: Day
    ends_on: Day
    districts: Annotated[list[District], Field(description="none: city-wide")]
    status: Status
    services: Annotated[
        list[str], Field(description="live services (recycling, walking, shelters) or others")
    ]
    notes: str
    sample: bool
    created_at: Instant
    updated_at: Instant


class ProjectList(Answer):
    projects: list[Project]


class FieldTally(Answer):
    field: ProjectField
    field_name: str
    projects: int
    budget_krw: int


class YearTally(Answer):
    year: Year
    projects: Annotated[int, Field(description="projects with a budget that year")]
    budget_krw: int


class FundingTally(Answer):
    funding: Funding
    projects: int
    budget_krw: int


class StatusTally(Answer):
    status: Status
    projects: int
    budget_krw: int


class ProjectSummary(Answer):
    projects: int
    budget_krw: int
    by_field: list[FieldTally]
    by_year: list[YearTally]
    by_funding: list[FundingTally]
    by_status: list[StatusTally]


class OverlapReason(Answer):
    model_config = ConfigDict(extra="allow")
    code: Literal["same_field", "districts_overlap", "periods_overlap", "similar_names"]
    message: str


class OverlapPair(Answer):
    project_ids: Annotated[list[str], Field(min_length=2, max_length=2)]
    names: Annotated[list[str], Field(min_length=2, max_length=2)]
    field: ProjectField
    field_name: str
    reasons: list[OverlapReason]
    similarity: Annotated[float, Field(ge=0, le=1)]


class OmissionReason(Answer):
    code: Literal["no_figures", "service_not_live"]
    message: str


class UnmeasuredProject(Answer):
    project_id: str
    name: str
    services: list[str]
    reasons: list[OmissionReason]


class ProjectOverlaps(Answer):
    pairs: list[OverlapPair]
    unmeasured: list[UnmeasuredProject]
    computed_at: Instant
