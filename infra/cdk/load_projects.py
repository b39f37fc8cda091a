"""Load a project registry file into a deployed stage (DESIGN §4d; docs/deploy.md step 5).

    python -m infra.cdk.load_projects --stage dev [FILE] [--by admin@example.go.kr]

Writes with the operator's AWS credentials through the app's own service and the stage's
table names (infra/project_registry.py): every project judged first, then each new id
registered with its action-log entry (as `--by`, else `system`); ids already registered are
kept, so running it again changes nothing. FILE: the sample (infra/data/projects-sample.json)
by default, or the city's own registry of the same shape.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infra.cdk.functions import stage_import
from infra.cdk.region import use_one_region
from infra.cdk.stage import Stage
from infra.project_registry import SAMPLE, RegistryFileError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=SAMPLE)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--by", default=None, help="who loads it, as the action log names them")
    args = parser.parse_args(argv)

    use_one_region()  # `export AWS_REGION=...` as for the CDK CLI is enough
    stage = Stage.load(args.stage)
    from chalicelib.domain.staff_actions import SYSTEM, Actor

    by = Actor(args.by, ("admin",)) if args.by else SYSTEM
    with stage_import(stage.env):
        from chalicelib import wiring

        wiring.clear()
        try:
            result = load(args.file, by)
        except RegistryFileError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        finally:
            wiring.clear()
    print(json.dumps({"stage": stage.name, "created": result.created, "kept": result.kept}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
