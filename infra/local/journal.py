"""The emulator's write-ahead journal: whatever moto acknowledged survives a SIGKILL.

The snapshot (infra/local/persistence.py) is written at a checkpoint; every change the
emulator makes after it is appended to a journal file BEFORE its answer leaves, and a start
restores the snapshot and replays the journal over it. A checkpoint (at start, after the
stack's provisioning; when the journal grows past the stack's limit; at a clean stop) writes
a new snapshot naming a new, empty journal, then deletes the old one.

What is journaled, and how (docs/local-durability.md has the reasons):

- DynamoDB, S3, SNS, SSM and SQS queue administration: the request itself (method, path,
  headers but the signature, body), appended after moto applied it and before the answer is
  sent, unless moto answered 4xx (nothing changed). Replay sends it through moto again.
  DynamoDB requests are journaled under moto_transactions.LOCK, which already serialises
  every DynamoDB request, so the journal's order is the order they were applied in; the
  others under `ORDER`. Reads (and DynamoDB Streams) are not journaled.
- SQS messages: by what happened to them, not by request. A message that enters a queue
  (a send, or a move to its dead-letter queue) is journaled whole, with the id moto gave it;
  a deleted one by that id (receipt handles are random and die with the process). Receives
  and visibility changes are not: after a crash every message not deleted is visible again,
  as after an expired visibility timeout; every consumer is idempotent (DESIGN §6).
- KMS: key creation journals the key object itself (its material is random); the other
  mutations the request. Nothing carrying plaintext (Encrypt, GenerateDataKey...) is.
- SNS Publish is not journaled: a message sent is not state (and an SMS names a phone).

Each journal is sealed with AES-GCM under a key of its own, kept only in the snapshot that
names it: a journal file alone reads as noise, and once its checkpoint replaced it nothing
can read a leftover copy. A torn last record (killed mid-write) fails its tag and ends the
replay there. Records are handed to the OS with one write() each (no fsync): a SIGKILL
keeps them (the page cache survives the process); a power cut may lose the last seconds.

While a checkpoint writes the snapshot, requests wait (`GATE`): the snapshot is the state
after exactly the journaled changes before it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import pickle
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from infra.local import moto_pins

log = logging.getLogger(__name__)

PREFIX = "emulator.journal."
SERVICES = ("dynamodb", "sqs", "s3", "kms", "sns", "ssm")
"""Journaled services: the ones the snapshot keeps (persistence.SERVICES)."""

ORDER = threading.RLock()
"""Held while a journaled change is applied and appended (DynamoDB's are under its own
request lock), and while an SQS message enters or leaves a queue."""

_HEADER = struct.Struct(">I")
_MAX_RECORD = 1 << 30

# Reads: never journaled. Everything else of a journaled service is (a new write action of
# moto's is journaled by default), except KMS, where only listed mutations are: its reads
# carry plaintext.
_DYNAMODB_READS = frozenset(
    {
        "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable",
        "ListTables", "DescribeTimeToLive", "ListTagsOfResource", "DescribeContinuousBackups",
        "DescribeEndpoints", "DescribeLimits", "ListBackups", "DescribeBackup",
        "ListGlobalTables", "DescribeGlobalTable", "DescribeKinesisStreamingDestination",
        "GetResourcePolicy", "ListExports", "DescribeExport", "ListImports", "DescribeImport",
        "DescribeContributorInsights", "ListContributorInsights",
        "DescribeTableReplicaAutoScaling", "DescribeGlobalTableSettings",
    }
)  # fmt: skip
_SQS_NOT_BY_REQUEST = frozenset(
    {
        # reads
        "GetQueueUrl", "GetQueueAttributes", "ListQueues", "ListQueueTags",
        "ListDeadLetterSourceQueues", "ListMessageMoveTasks",
        # messages: journaled by what happens to them (the Queue hooks below), or transient
        "SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch",
        "ReceiveMessage", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
        "StartMessageMoveTask", "CancelMessageMoveTask",
    }
)  # fmt: skip
_KMS_MUTATIONS = frozenset(
    {
        "CreateKey", "CreateAlias", "UpdateAlias", "DeleteAlias", "EnableKey", "DisableKey",
        "ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKeyRotation", "DisableKeyRotation",
        "PutKeyPolicy", "TagResource", "UntagResource", "UpdateKeyDescription",
    }
)  # fmt: skip
_SNS_NOT_JOURNALED = frozenset({"Publish", "PublishBatch"})
_READ_PREFIXES = ("Get", "List", "Describe")
_KEPT_HEADERS = frozenset(
    {
        "content-type", "content-md5", "content-encoding", "content-language",
        "content-disposition", "cache-control", "expires",
    }
)  # fmt: skip
_DROPPED_AMZ_HEADERS = frozenset({"x-amz-date", "x-amz-security-token", "x-amz-user-agent"})


# --- the journal file ----------------------------------------------------------------------


class Journal:
    """One generation's file: records of ``length | AES-GCM(nonce = record number)``."""

    def __init__(self, path: Path, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.path = path
        self._aead = AESGCM(key)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._records = 0
        self.bytes = 0

    def append(self, entry: tuple[Any, ...]) -> None:
        payload = _dumps(entry)
        with ORDER:
            if self._fd < 0:
                return  # closed by a clean stop: the checkpoint has it
            sealed = self._aead.encrypt(_nonce(self._records), payload, None)
            record = _HEADER.pack(len(sealed)) + sealed
            view = memoryview(record)
            while view:
                view = view[os.write(self._fd, view) :]
            self._records += 1
            self.bytes += len(record)

    def close(self) -> None:
        with ORDER:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def _nonce(n: int) -> bytes:
    return b"\0\0\0\0" + struct.pack(">Q", n)


def _dumps(entry: tuple[Any, ...]) -> bytes:
    if entry[0] != "kms.key":
        return pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
    from infra.local.persistence import _dispatch_table

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()  # a key's private key as its PEM
    pickler.dump(entry)
    return buffer.getvalue()


def read(path: Path, key: bytes) -> tuple[list[tuple[Any, ...]], int]:
    """The journal's entries up to the first record that is not whole (a torn tail); and
    how many bytes after them were ignored."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    aead = AESGCM(key)
    entries: list[tuple[Any, ...]] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        (length,) = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if length > _MAX_RECORD or end > len(data):
            break
        try:
            payload = aead.decrypt(_nonce(len(entries)), data[offset + _HEADER.size : end], None)
        except InvalidTag:
            break
        entries.append(pickle.loads(payload))  # sealed by us: nothing else passes the tag
        offset = end
    return entries, len(data) - offset


# --- the state of this process (the emulator's) -------------------------------------------


class _Gate:
    """Many requests at once, or one checkpoint alone (which waits for the requests in
    flight, at most a long poll, and holds new ones back while it writes)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._active = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._active:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


GATE = _Gate()
_journal: Journal | None = None


def active() -> Journal | None:
    return _journal


# --- checkpoint and restore (called through Emulator.call) --------------------------------


def checkpoint(
    state_dir: Path, stream_positions: dict[str, dict[str, str]], journal: bool = True
) -> dict[str, Any]:
    """Snapshot the state with a new, empty journal named in it; the old journal goes.
    ``journal=False``: the snapshot alone (what a clean stop kept before the journal)."""
    global _journal
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from infra.local import persistence

    started = time.monotonic()
    state_dir = Path(state_dir)
    with GATE.exclusive(), ORDER:
        reference: dict[str, Any] | None = None
        fresh = None
        if journal:
            name = f"{PREFIX}{os.urandom(8).hex()}"
            key = AESGCM.generate_key(bit_length=256)
            reference = {"name": name, "key": key}
            fresh = Journal(state_dir / name, key)
        persistence.save(state_dir, stream_positions, journal=reference)
        old, _journal = _journal, fresh
        if old is not None:
            old.close()
        for path in state_dir.glob(f"{PREFIX}*"):
            if reference is None or path.name != reference["name"]:
                path.unlink(missing_ok=True)
    return {"checkpoint_s": round(time.monotonic() - started, 3)}


def close() -> None:
    """No more journaling in this process (its stop)."""
    global _journal
    with ORDER:
        old, _journal = _journal, None
    if old is not None:
        old.close()


def journal_bytes() -> int:
    journal = _journal
    return journal.bytes if journal is not None else 0


def restore(state_dir: Path) -> dict[str, Any] | None:
    """The last snapshot put back and its journal replayed over it: the stream positions it
    kept and what the replay did; None for a fresh state folder."""
    from infra.local import persistence

    state_dir = Path(state_dir)
    document = persistence.restore_document(state_dir)
    if document is None:
        return None
    report: dict[str, Any] = {"positions": document["stream_positions"], "replayed": 0}
    reference = document.get("journal")
    if reference:
        started = time.monotonic()
        entries, torn = read(state_dir / reference["name"], reference["key"])
        if torn:
            log.warning("the journal's last %d bytes were not a whole record: ignored", torn)
        replay(entries)
        report.update(
            replayed=len(entries), torn_bytes=torn, replay_s=round(time.monotonic() - started, 2)
        )
    return report


def forget(state_dir: Path) -> None:
    for path in Path(state_dir).glob(f"{PREFIX}*"):
        path.unlink(missing_ok=True)


# --- replay --------------------------------------------------------------------------------


def replay(entries: Iterable[tuple[Any, ...]]) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    client = Client(DomainDispatcherApplication(create_backend_app))
    where: dict[str, Any] | None = None  # SQS message id -> the queue holding it
    for entry in entries:
        kind = entry[0]
        if kind == "http":
            _replay_request(client, *entry[1:])
        elif kind in ("sqs.put", "sqs.drop"):
            if where is None:
                where = _message_index()
            _replay_sqs(where, *entry)
        elif kind == "kms.key":
            from moto.kms.models import kms_backends

            _, account, region, key_id, key = entry
            kms_backends[account][region].keys[key_id] = key


def _replay_request(
    client: Any,
    service: str,
    region: str,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    credential = f"local/20000101/{region}/{service}/aws4_request"
    signed = [
        *headers,
        ("Authorization", f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, "
         "Signature=0"),
    ]  # fmt: skip
    response = client.open(path, method=method, query_string=query, headers=signed, data=body)
    if response.status_code >= 500:
        log.warning("replaying %s %s %s answered %s", service, method, path, response.status)


def _message_index() -> dict[str, Any]:
    from moto.sqs.models import sqs_backends

    index: dict[str, Any] = {}
    for account, regions in list(sqs_backends.items()):
        for region in list(regions.keys()):
            for queue in sqs_backends[account][region].queues.values():
                for message in queue._messages:
                    index[message.id] = queue
    return index


def _replay_sqs(
    where: dict[str, Any], kind: str, account: str, region: str, queue_name: str, payload: Any
) -> None:
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account][region].queues.get(queue_name)
    if queue is None:
        log.warning("replay: queue %s is gone; its journaled messages are skipped", queue_name)
        return
    if kind == "sqs.put":
        held = where.pop(payload.id, None)
        if held is not None:  # a move (to a dead-letter queue): one queue holds a message
            held._messages = [m for m in held._messages if m.id != payload.id]
        queue._messages.append(payload)
        where[payload.id] = queue
        return
    gone = set(payload)
    queue._messages = [m for m in queue._messages if m.id not in gone]
    for message_id in gone:
        where.pop(message_id, None)


# --- journaling requests (the WSGI application in front of moto) --------------------------


def _service(environ: dict[str, Any]) -> tuple[str, str] | None:
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    try:
        _, _, region, service, _ = auth.split(",")[0].split()[1].split("/")
    except (IndexError, ValueError):
        return None
    return service.lower(), region


def _action(service: str, environ: dict[str, Any], body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if service == "s3":
        return str(environ.get("REQUEST_METHOD", "GET"))
    for source in (environ.get("QUERY_STRING", ""), body.decode("latin-1")):
        found = urllib.parse.parse_qs(source).get("Action")
        if found:
            return found[0]
    return ""


def journaled(service: str, action: str, environ: dict[str, Any]) -> bool:
    """Whether a request of this service and action is journaled as itself."""
    if service == "dynamodb":
        if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDBStreams"):
            return False
        return action not in _DYNAMODB_READS
    if service == "sqs":
        return action not in _SQS_NOT_BY_REQUEST
    if service == "s3":
        return action not in ("GET", "HEAD", "OPTIONS")
    if service == "kms":
        return action in _KMS_MUTATIONS
    if service == "sns":
        return action not in _SNS_NOT_JOURNALED and not action.startswith(_READ_PREFIXES)
    if service == "ssm":
        return not action.startswith(_READ_PREFIXES)
    return False


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The headers moto reads a request's meaning from (not its signature, date, agent)."""
    headers = []
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            header = name[5:].replace("_", "-").lower()
        elif name == "CONTENT_TYPE":
            header = "content-type"
        else:
            continue
        if header in _KEPT_HEADERS or (
            header.startswith("x-amz-") and header not in _DROPPED_AMZ_HEADERS
        ):
            headers.append((header, str(value)))
    return headers


_dynamodb = threading.local()  # the DynamoDB request this thread is serving, to journal


def _journaled_call_action(call_action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call_action)
    def journaled_call_action(self: Any) -> Any:
        request = getattr(_dynamodb, "request", None)
        if request is None:
            return call_action(self)
        _dynamodb.request = None
        from infra.local.moto_transactions import LOCK

        with LOCK:  # DynamoDB's order of application is the journal's
            status, headers, body = call_action(self)
            journal = _journal
            if journal is not None and not 400 <= int(status) < 500:
                journal.append(request)
        return status, headers, body

    setattr(journaled_call_action, _MARK, call_action)
    return journaled_call_action


class JournaledApplication:
    """moto's WSGI application with its changes journaled before its answers leave."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with GATE.shared():
            found = _service(environ) if _journal is not None else None
            if found is None or found[0] not in SERVICES:
                return self._answer(environ, start_response)
            service, region = found
            stream = environ["wsgi.input"]
            body = stream.read() if stream is not None else b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            action = _action(service, environ, body)
            if not journaled(service, action, environ):
                return self._answer(environ, start_response)
            request = (
                "http",
                service,
                region,
                str(environ.get("REQUEST_METHOD", "GET")),
                str(environ.get("PATH_INFO", "/")),
                str(environ.get("QUERY_STRING", "")),
                _headers(environ),
                body,
            )
            if service == "dynamodb":
                # appended by DynamoHandler.call_action, under DynamoDB's one lock, the
                # moment moto applied it: Flask's dispatch around it stays outside the lock
                _dynamodb.request = request
                try:
                    return self._answer(environ, start_response)
                finally:
                    _dynamodb.request = None
            with ORDER:
                status, headers, answer = self._run(environ)
                code = int(status.split(" ", 1)[0])
                journal = _journal
                if journal is not None and not 400 <= code < 500:
                    if service == "kms" and action == "CreateKey" and code < 300:
                        journal.append(_created_key(region, answer))
                    else:
                        journal.append(request)
            start_response(status, headers)
            return [answer]

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        status, headers, answer = self._run(environ)
        start_response(status, headers)
        return [answer]

    def _run(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """The whole answer, nothing sent yet."""
        captured: dict[str, Any] = {}
        written: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return written.append

        result = self.app(environ, capture)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return captured["status"], captured["headers"], b"".join(written)


def _created_key(region: str, answer: bytes) -> tuple[Any, ...]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.kms.models import kms_backends

    key_id = json.loads(answer)["KeyMetadata"]["KeyId"]
    return (
        "kms.key",
        DEFAULT_ACCOUNT_ID,
        region,
        key_id,
        kms_backends[DEFAULT_ACCOUNT_ID][region].keys[key_id],
    )


# --- SQS messages --------------------------------------------------------------------------

# sha256 (first 16 hex digits) of the source of what the hooks rely on: a message enters a
# queue only through Queue.add_message (sends and dead-letter moves) and leaves through
# Queue.delete_message, a receive's dead-letter move or a purge; a message's id is `id`.
EXPECTED_SOURCES: dict[str, str] = {
    "Queue.add_message": "f27c9231c1f20433",
    "Queue.delete_message": "fa6fd5b9bd2cafb4",
    "Message.__init__": "4ab16d5eb16ec41c",
    "SQSBackend.receive_message": "065f3e5e7d214408",
    "SQSBackend.purge_queue": "443ea1ae7b15230c",
}
_MARK = "_gimhae_journal"
_install_lock = threading.Lock()


def _own(fn: Callable[..., Any]) -> Callable[..., Any]:
    return getattr(fn, _MARK, fn)


def _pinned() -> dict[str, Any]:
    from moto.sqs.models import Message, Queue, SQSBackend

    return {
        "Queue.add_message": _own(Queue.add_message),
        "Queue.delete_message": _own(Queue.delete_message),
        "Message.__init__": Message.__init__,
        "SQSBackend.receive_message": _own_all(SQSBackend.receive_message),
        "SQSBackend.purge_queue": SQSBackend.purge_queue,
    }


def _own_all(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Under any of the local stack's wrappers (moto_sqs's lock too)."""
    while True:
        inner = getattr(fn, _MARK, None) or getattr(fn, "_gimhae_moto_sqs", None)
        if inner is None:
            return fn
        fn = inner


def check() -> list[str]:
    """What differs from the moto the SQS hooks were written against (empty: nothing)."""
    return moto_pins.differences(_pinned(), EXPECTED_SOURCES, _own_all)


def _add_message(add: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(add)
    def add_message(self: Any, message: Any) -> None:
        with ORDER:
            add(self, message)
            journal = _journal
            if journal is not None and self._messages and self._messages[-1] is message:
                journal.append(("sqs.put", self.account_id, self.region, self.name, message))

    setattr(add_message, _MARK, add)
    return add_message


def _delete_message(delete: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(delete)
    def delete_message(self: Any, receipt_handle: str) -> None:
        with ORDER:  # also: a send's append never lands in a list a delete is replacing
            journal = _journal
            ids = (
                [m.id for m in self._messages if m.had_receipt_handle(receipt_handle)]
                if journal is not None
                else []
            )
            delete(self, receipt_handle)
            if ids and journal is not None:
                journal.append(("sqs.drop", self.account_id, self.region, self.name, ids))

    setattr(delete_message, _MARK, delete)
    return delete_message


_installed: list[bool] = []  # [True] once installed


def installed() -> bool:
    return bool(_installed)


def install() -> None:
    """Journal every change moto server makes in this process (idempotent). Until a
    checkpoint opens a journal, nothing is written."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import Queue

    with _install_lock:
        if _installed:
            return
        DynamoHandler.call_action = _journaled_call_action(DynamoHandler.call_action)  # type: ignore[method-assign]
        if moto_pins.still_fits(__name__, "SQS messages are not journaled", check()):
            Queue.add_message = _add_message(Queue.add_message)  # type: ignore[method-assign]
            Queue.delete_message = _delete_message(Queue.delete_message)  # type: ignore[method-assign]
        _installed.append(True)


def uninstall() -> None:
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import Queue

    with _install_lock:
        if _installed:
            DynamoHandler.call_action = _own(DynamoHandler.call_action)  # type: ignore[method-assign]
            Queue.add_message = _own(Queue.add_message)  # type: ignore[method-assign]
            Queue.delete_message = _own(Queue.delete_message)  # type: ignore[method-assign]
            _installed.clear()
