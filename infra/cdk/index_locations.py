"""Put a deployed stage's devices in the location index ("near me", DESIGN §4c): the
backfill after the deploy that added `by-geo` to `device-states`.

    python -m infra.cdk.index_locations --stage dev

DynamoDB builds the index from the items that have its key; a state row written before the
index has no `geohash`, so this gives each one its cell (iot/provisioning.index_locations:
one Query per device type, one conditional UpdateItem per row that needs it; a second run
writes nothing). Devices registered or moved afterwards get their cell in the same write.
"""

from __future__ import annotations

import argparse
import json

from infra.cdk.functions import stage_import
from infra.cdk.region import use_one_region
from infra.cdk.stage import Stage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    use_one_region()
    stage = Stage.load(args.stage)
    with stage_import(stage.env):
        from iot.provisioning import index_locations

        written = index_locations(stage.city)
    print(json.dumps({"stage": args.stage, "indexed": written}))


if __name__ == "__main__":
    main()
