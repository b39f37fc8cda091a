"""Loading a project registry file (infra/data/projects-sample.json, or the city's own of the
same shape) into a stage's registry, through the app's own service: every project judged by
the API's rules first (a bad file registers nothing), then each new id registered with its
action-log entry; ids already registered are kept as they are, so loading twice changes
nothing. Used by the local stack at its start, `python -m infra.local projects load` and
`python -m infra.cdk.load_projects` (in AWS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from chalicelib.domain.projects import LoadResult, ProjectDraft
from chalicelib.domain.staff_actions import SYSTEM, Actor

SAMPLE: Final = Path(__file__).resolve().parent / "data" / "projects-sample.json"


class RegistryFileError(ValueError):
    """The file is not a registry file, or a project in it breaks the registry's rules."""


def read_drafts(path: Path) -> list[tuple[str, ProjectDraft]]:
    """The file's projects as drafts (types checked as the API checks a request)."""
    from pydantic import ValidationError

    from chalicelib.api.project_schemas import SampleRegistry
    from chalicelib.api.projects import draft_of

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        registry = SampleRegistry.model_validate(document)
    except (OSError, ValueError) as e:  # ValidationError is a ValueError
        detail = e.errors(include_url=False)[:5] if isinstance(e, ValidationError) else str(e)
        raise RegistryFileError(f"{path}: not a registry file: {detail}") from e
    ids = [p.project_id for p in registry.projects]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise RegistryFileError(f"{path}: ids given twice: {', '.join(repeated)}")
    return [(p.project_id, draft_of(p)) for p in registry.projects]


def load(path: Path = SAMPLE, by: Actor = SYSTEM) -> LoadResult:
    """Register the file's new projects in the stage the environment names (the app's
    settings: table prefix, city)."""
    from chalicelib import wiring
    from chalicelib.errors import Unprocessable

    drafts = read_drafts(path)
    try:
        return wiring.projects().load(drafts, by, source=path.name)
    except Unprocessable as e:
        raise RegistryFileError(f"{path}: {e.message}: {e.details}") from e
