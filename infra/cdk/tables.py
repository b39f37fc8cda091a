"""DynamoDB tables, one per PynamoDB model in `ALL_MODELS`: add a model, get a table."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from chalicelib.adapters.dynamodb_models import ALL_MODELS, logical_name
from infra.cdk.names import model_key
from infra.cdk.schema import IndexSpec, Key, TableSpec, table_spec
from infra.cdk.stage import Stage

MONEY_OR_IDENTITY = {
    "citizens": "each citizen's balance and profile",
    "ledger": "every movement of points: the balance is its sum",
    "processed-events": "the exactly-once guard of every credit: lost, a robot's retry pays twice",
    "phone-links": "who holds which phone number (keyed hashes)",
    "payout-accounts": "citizens' bank accounts (encrypted)",
    "payout-runs": "the payout runs",
    "payout-items": "who was paid what, and whether the bank settled it",
    "payout-skips": "who a run left out, and why",
    "ledger-audits": "the audits of the ledger against the balances",
    "corrections": "proposed and approved changes to balances",
    "staff-actions": "who among the staff did what (the audit trail)",
    "devices": "the registered robots and shelters, each with its certificate",
}
"""Tables that hold money or identity, with why. Every table has point-in-time recovery (35
days back, priced per GB: small next to losing a day); in production every table has deletion
protection and is retained when the stack goes, these first of all (tests/infra checks them by
name). Development stages are torn down whole, so there they have neither."""

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}
_STREAMS = {
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}


def _attribute(key: Key | None) -> dynamodb.Attribute | None:
    return None if key is None else dynamodb.Attribute(name=key.name, type=_TYPES[key.attr_type])


def _projection(index: IndexSpec) -> dict[str, object]:
    return {
        "projection_type": _PROJECTIONS[index.projection],
        "non_key_attributes": list(index.non_key_attributes) or None,
    }


class Tables(Construct):
    """`by_model` maps each model (by `names.model_key`) to its table, `by_logical` each
    table's logical name (`ledger`)."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        self.specs: dict[str, TableSpec] = {}
        self.by_model: dict[str, dynamodb.Table] = {}
        self.by_logical: dict[str, dynamodb.Table] = {}
        for model in ALL_MODELS:
            key = model_key(model)
            spec = table_spec(model)
            self.specs[key] = spec
            self.by_model[key] = self._table(spec, stage.names.tables[key], stage)
            self.by_logical[logical_name(model)] = self.by_model[key]

    def _table(self, spec: TableSpec, name: str, stage: Stage) -> dynamodb.Table:
        stream = spec.stream_view_type
        table = dynamodb.Table(
            self,
            spec.model.__name__,
            table_name=name,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=_STREAMS[stream] if stream else None,
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=stage.is_production,
            removal_policy=(
                cdk.RemovalPolicy.RETAIN if stage.is_production else cdk.RemovalPolicy.DESTROY
            ),
        )
        for index in spec.global_indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key),
                **_projection(index),  # type: ignore[arg-type]
            )
        for index in spec.local_indexes:
            table.add_local_secondary_index(
                index_name=index.name,
                sort_key=_attribute(index.sort_key),  # type: ignore[arg-type]
                **_projection(index),  # type: ignore[arg-type]
            )
        return table
