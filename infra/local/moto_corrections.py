"""Every correction the product's tests and the local stack make to stock moto, in one list.

Each entry says what stock moto does, what AWS does, and which module corrects it. The
in-process `mock_aws` tests (tests/conftest.py, through `stack.use_in_process_emulator`)
apply the `IN_PROCESS` list; the moto server of the local stack (`emulator.serve`) applies
the `SERVER` list; the data-plane bridge needs the stack's broker and is applied when it is
up (`emulator.connect_data_plane`). tests/emulator/test_moto_corrections.py checks that each
is applied where it is listed, and that each still fits the moto it was written against
(a moto upgrade that changes or fixes what it corrects fails there, not quietly).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

IN_PROCESS = "in-process"
SERVER = "server"
DATA_PLANE = "data-plane"


@dataclass(frozen=True)
class Correction:
    module: str
    """The module that corrects it: `install()`, `installed()` and `check()` (what changed
    in moto under it), except for the data plane, installed with a broker connection."""
    stock: str
    aws: str
    applied: tuple[str, ...]
    """Where it is applied: IN_PROCESS, SERVER, DATA_PLANE."""

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


CORRECTIONS: tuple[Correction, ...] = (
    Correction(
        "infra.local.moto_server",
        stock="the server finds each request's service by listing moto's package and trying "
        "every backend's URL patterns under one shared lock; every answer closes the "
        "connection",
        aws="a request costs its work; connections are kept alive",
        applied=(SERVER,),
    ),
    Correction(
        "infra.local.moto_transactions",
        stock="TransactWriteItems deep-copies every table it names per item (seconds at 50k "
        "rows), answers 500 when requests race, streams an UpdateItem on a new key as its "
        "key alone first, and a cancellation detaches open stream iterators",
        aws="a transaction is atomic against every other request, costs what it touches, "
        "and streams one INSERT per created item",
        applied=(IN_PROCESS, SERVER),
    ),
    Correction(
        "infra.local.moto_expressions",
        stock="every update and condition expression is parsed, deep-copied and walked ten "
        "times per request (quadratic in its size)",
        aws="same results, at a cost independent of the expression's repetition",
        applied=(IN_PROCESS, SERVER),
    ),
    Correction(
        "infra.local.moto_sqs",
        stock="two concurrent ReceiveMessage calls on one queue often get the same message; "
        "a receive counts the whole queue for each message it returns",
        aws="a received message is hidden from other pollers for its visibility timeout "
        "(a second delivery is rare)",
        applied=(IN_PROCESS, SERVER),
    ),
    Correction(
        "infra.local.moto_sqs_moves",
        stock="StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask answer "
        "500 (not implemented)",
        aws="a dead-letter queue's messages move back to their source queue (a task, one at "
        "a time per queue, listed with its counts)",
        applied=(IN_PROCESS, SERVER),
    ),
    Correction(
        "infra.local.moto_json",
        stock="DynamoDB and Streams answers go through the model-driven serializer's "
        "attribute picker (a third of the emulator's CPU under load)",
        aws="the same JSON answers",
        applied=(IN_PROCESS, SERVER),
    ),
    Correction(
        "infra.local.iot_data_patch",
        stock="iot-data Publish only records the message; shadow updates and deletes never "
        "leave moto, and an update AWS refuses (infra/local/shadow_documents.py) is taken",
        aws="Publish reaches MQTT subscribers; accepted shadow changes publish "
        "update/accepted, update/delta, update/documents, delete/accepted",
        applied=(DATA_PLANE,),
    ),
)


EMULATOR_FEATURES: dict[str, str] = {
    "infra.local.journal": "journals what moto acknowledged, so a killed stack loses nothing",
    "infra.local.outbox": "the SMS moto's SNS pretends to send land in the local outbox",
}
"""Modules that patch moto for the local stack's own needs, not to match AWS."""


def applied_in(where: str) -> list[Correction]:
    return [c for c in CORRECTIONS if where in c.applied]


def install(where: str) -> None:
    """Apply every correction listed for `where` (IN_PROCESS or SERVER), in list order;
    each `install()` is idempotent."""
    if where == DATA_PLANE:
        raise ValueError("the data plane is installed with its broker: emulator.connect_data_plane")
    for correction in applied_in(where):
        correction.load().install()


def installed_in(where: str) -> dict[str, bool]:
    """Whether each correction listed for `where` is in place in this process."""
    return {c.module: bool(c.load().installed()) for c in applied_in(where)}
