"""The local outbox (DESIGN §7): what the system would send to people (SMS codes, operators'
alert messages; push notifications later) lands here instead, one JSON line each:
`{channel, to, text, at}` in `<state-dir>/outbox.jsonl`, read by `python -m infra.local outbox`.

`to` is masked by its channel's rule before it is written: a phone number keeps its last 4
digits only, so the file never holds a whole number; `text` is what the person would read
(an SMS code is there: that is how a developer, or an e2e test, reads it). Any phone number
inside a text is redacted as the logs redact them.

SMS: the app publishes to SNS with `PhoneNumber`, exactly as in AWS; in the emulator's
process a wrapper around moto's SNS backend's `publish` copies each SMS here. It calls moto's
own method and only adds the copy, so it copies none of moto's code; its pin still fails the
guard test loudly if moto's method changes.

Alerts: in AWS operators subscribe to the alerts topic (e-mail, chat); locally the same
wrapper is that subscriber: every message published to the alerts topic is copied here as
channel `alert`, `to` the topic's name, `text` the message as published (its JSON: `alert_id`,
`event`, `severity`, `kind`, `device_id`, `detail`, ...).

Push: the app publishes each notification to its phones' SNS platform endpoints, exactly as
in AWS, on the stand-in platform applications the local stack makes
(provision.create_push_applications); the same wrapper copies each as channel `push`, `to`
the platform and the token's last 8 characters, `text` the title and body the phone would
show.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local import moto_pins

FILE_NAME = "outbox.jsonl"
CHANNELS = ("sms", "push", "email", "alert")
# sha256 prefixes of the moto sources the SMS sink relies on (moto_pins.source_digest).
EXPECTED_SOURCES = {"SNSBackend.publish": "6356a2b5b79eb3de"}

_lock = threading.Lock()
_uninstall: list[Callable[[], None]] = []


def path(state_dir: Path | str) -> Path:
    return Path(state_dir) / FILE_NAME


def mask_phone(number: str) -> str:
    """Every digit but the last 4 as `*`: `+821023456789` -> `+********6789`."""
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    keep = set(digits[-4:])
    return "".join(c if (not c.isdigit() or i in keep) else "*" for i, c in enumerate(number))


def record(
    state_dir: Path | str, channel: str, to: str, text: str, at: datetime | None = None
) -> None:
    """Append one message. `to` is masked here for `sms`; other channels pass what they may
    show (a push token's tail, an operator's address)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    from chalicelib.domain.phones import redact_phones

    line = json.dumps(
        {
            "channel": channel,
            "to": mask_phone(to) if channel == "sms" else to,
            "text": redact_phones(text),
            "at": (at or datetime.now(UTC)).isoformat(timespec="milliseconds"),
        },
        ensure_ascii=False,
    )
    target = path(state_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        # One write of a whole line in append mode: lines from several writers never interleave.
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)


def read(state_dir: Path | str, channel: str | None = None) -> list[dict[str, Any]]:
    """Every message so far, oldest first (none when nothing was sent)."""
    try:
        lines = path(state_dir).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = [json.loads(line) for line in lines if line.strip()]
    return [m for m in found if channel is None or m["channel"] == channel]


def forget(state_dir: Path | str) -> None:
    path(state_dir).unlink(missing_ok=True)


def check() -> list[str]:
    """What differs from the moto the SMS sink was written against (empty: nothing)."""
    from moto.sns.models import SNSBackend

    return moto_pins.differences({"SNSBackend.publish": SNSBackend.publish}, EXPECTED_SOURCES)


def install_sms_sink(state_dir: str, alerts_topic: str | None = None) -> None:
    """In the emulator's process: every SMS SNS accepts is also written to the outbox, and
    every message to the topic named `alerts_topic` (the operators' alerts)."""
    from moto.sns.models import SNSBackend

    uninstall_sms_sink()
    if not moto_pins.still_fits(__name__, "SMS codes reach no local outbox", check()):
        return
    original = SNSBackend.__dict__["publish"]

    def publish(self: SNSBackend, message: str, *args: Any, **kwargs: Any) -> str:
        message_id: str = original(self, message, *args, **kwargs)
        number = kwargs.get("phone_number")
        arn = kwargs.get("arn", args[0] if args else None)
        if number:
            record(state_dir, "sms", number, message)
        elif isinstance(arn, str) and ":endpoint/" in arn:
            record(state_dir, "push", _push_to(self, arn), _push_text(message))
        elif alerts_topic and isinstance(arn, str) and arn.rsplit(":", 1)[-1] == alerts_topic:
            record(state_dir, "alert", alerts_topic, message)
        return message_id

    publish.__wrapped__ = original  # type: ignore[attr-defined]
    SNSBackend.publish = publish  # type: ignore[method-assign]

    def restore() -> None:
        SNSBackend.publish = original  # type: ignore[method-assign]

    _uninstall.append(restore)


def _push_to(backend: Any, endpoint_arn: str) -> str:
    """`fcm:…<last 8 of the token>`: which phone, without the whole token."""
    endpoint = backend.platform_endpoints.get(endpoint_arn)
    token = str(getattr(endpoint, "token", "") or "")
    platform = "apns" if "/APNS" in endpoint_arn else "fcm"
    return f"{platform}:…{token[-8:]}"


def _push_text(message: str) -> str:
    """What the phone shows: the title and body of the app's JSON message, on two lines."""
    try:
        default = json.loads(message)
        fcm = json.loads(default["GCM"])["notification"]
        return f"{fcm['title']}\n{fcm['body']}"
    except (ValueError, KeyError, TypeError):
        return message


def uninstall_sms_sink() -> None:
    while _uninstall:
        _uninstall.pop()()


def sms_code(state_dir: Path | str, number: str, since: int = 0) -> str | None:
    """The code of the first SMS to `number` among the outbox's messages from `since` on
    (a count of messages read earlier), or None. Matched by the masked number, so `since`
    keeps two numbers with the same last 4 digits apart."""
    import re

    from chalicelib.domain.phone_proofs import e164
    from chalicelib.domain.phones import normalize_mobile

    to = mask_phone(e164(normalize_mobile(number)))
    for message in read(state_dir)[since:]:
        found = re.search(r"\b(\d{6})\b", message["text"])
        if message["channel"] == "sms" and message["to"] == to and found:
            return found.group(1)
    return None


def prove_phone(
    call: Callable[[str, str, dict[str, Any]], Any],
    state_dir: Path | str,
    number: str,
    timeout_s: float = 10.0,
) -> Any:
    """Link a phone as a citizen would, through the API: ask for a code, read it from the
    outbox, send it back. `call(method, path, body)` is the citizen's own API call, which
    answers the body (and raises on an error). Answers the verify's body."""
    import time

    since = len(read(state_dir))
    sent = call("POST", "/v1/me/phone", {"phone": number})
    deadline = time.monotonic() + timeout_s
    while (code := sms_code(state_dir, number, since)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("no SMS code reached the local outbox")
        time.sleep(0.05)
    body = {"verification_id": sent["verification_id"], "code": code}
    return call("POST", "/v1/me/phone/verify", body)
