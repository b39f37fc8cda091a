"""The emulator's state kept across restarts of the same state folder.

moto keeps everything in memory, so without this a developer's Ctrl-C would lose every
citizen, ledger entry, quarantined message, queued message and encryption key. On a clean
stop the stack writes the data services' backends to `<state>/emulator.pickle` (after every
event source has stopped, so nothing changes while it is written); on the next `up` they
are put back before provisioning, which then finds its tables, queues, buckets and keys
already there. The stream sources' positions are kept with them, so a restart resumes each
stream after its last handled record instead of replaying it from the start.

What is kept: DynamoDB tables and items (with their streams), SQS queues and their
messages, S3 buckets and objects, KMS keys, SNS topics and SSM parameters. What is not:
the IoT control plane (things, certificates, policies and rules are provisioned again from
the fleet file, the records of devices provisioned at run time and iot/), MQTT sessions,
and anything a handler was doing at the stop.

The snapshot is one half of a checkpoint: infra/local/journal.py journals every change made
after it, so a killed process (SIGKILL, a crash) comes back with everything the emulator
acknowledged; the snapshot names that journal and holds its key.
"""

from __future__ import annotations

import copyreg
import io
import logging
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

log = logging.getLogger(__name__)

FILE_NAME = "emulator.pickle"
SERVICES = ("dynamodb", "sqs", "s3", "kms", "sns", "ssm")
FORMAT = 1


def _new_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _reduce_private_key(key: Any) -> tuple[Any, tuple[bytes]]:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _load_private_key, (pem,)


def _blank(cls: Any) -> Any:
    return object.__new__(cls)


def _reduce_sns_backend(backend: Any) -> tuple[Any, tuple[type], dict[str, Any]]:
    """SNS without the text messages it sent: each names a phone number and carries a
    verification code in clear (a message sent is not state; the outbox keeps them masked)."""
    state = dict(backend.__dict__)
    for name, value in state.items():
        if name.startswith("sms_message"):  # sms_messages, sms_message_objects
            state[name] = type(value)()
    return _blank, (type(backend),), state


def _dispatch_table() -> dict[type, Any]:
    """Locks are written as fresh locks, KMS's private keys as their PKCS#8 PEM, SNS without
    its sent SMS. By type, so the C pickler never calls back into Python for the other
    millions of objects."""
    from cryptography.hazmat.bindings._rust import openssl
    from moto.sns.models import SNSBackend

    table: dict[type, Any] = dict(copyreg.dispatch_table)
    table[type(threading.Lock())] = lambda _: (_new_lock, (False,))
    table[type(threading.RLock())] = lambda _: (_new_lock, (True,))
    table[openssl.rsa.RSAPrivateKey] = _reduce_private_key
    table[openssl.ec.ECPrivateKey] = _reduce_private_key
    table[SNSBackend] = _reduce_sns_backend
    return table


def _backends(name: str) -> Any:
    """moto's backends of a service, by account (typed per service literal in moto)."""
    return get_backend(name)  # type: ignore[call-overload]


def save(
    state_dir: Path,
    stream_positions: dict[str, dict[str, str]],
    journal: dict[str, Any] | None = None,
) -> Path:
    """Write the data services' state and the streams' positions (atomically); `journal`
    names the journal that follows this snapshot and holds its key (infra/local/journal.py)."""
    document = {
        "format": FORMAT,
        "backends": {
            name: _backends(name)[DEFAULT_ACCOUNT_ID]
            for name in SERVICES
            if f"moto.{name}.models" in sys.modules  # a service never called holds nothing
        },
        "stream_positions": stream_positions,
        "journal": journal,
    }
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    pickler.dump(document)
    path = state_dir / FILE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def restore(state_dir: Path) -> dict[str, dict[str, str]] | None:
    """Put the saved state back into the emulator; the streams' positions, or None when
    there was nothing to restore (a fresh state folder) or it could not be read."""
    document = restore_document(state_dir)
    return None if document is None else document["stream_positions"]


def restore_document(state_dir: Path) -> dict[str, Any] | None:
    """Put the saved state back into the emulator; the snapshot's document (its streams'
    positions, its journal), or None (a fresh state folder, or unreadable)."""
    path = state_dir / FILE_NAME
    if not path.exists():
        return None
    try:
        document = pickle.loads(path.read_bytes())  # our own file, in our own state folder
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r}")
    except Exception as e:
        kept = path.with_suffix(".unreadable")
        path.replace(kept)
        log.warning("the saved emulator state could not be read (%s); kept as %s", e, kept)
        return None
    for name, backend in document["backends"].items():
        _backends(name)[DEFAULT_ACCOUNT_ID] = backend
    return dict(document)


def forget(state_dir: Path) -> None:
    """The next start begins empty."""
    (state_dir / FILE_NAME).unlink(missing_ok=True)
    for journal in state_dir.glob("emulator.journal.*"):
        journal.unlink()
