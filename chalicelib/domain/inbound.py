"""A device message as the intake (chalicelib.events.intake) hands it to a service: a typed
value the service can act on, or a refusal the service quarantines. Services never see the
message's bytes or its JSON; they keep `text`, the payload as received, only to quarantine
it when a later rule refuses the message.

Pure values, no parsing: the payload models live in chalicelib.domain.recycling and
chalicelib.domain.fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.domain.fleet import (
        DeviceType,
        PresenceEvent,
        ShadowDocuments,
        StatusMessage,
        TelemetryMessage,
    )
    from chalicelib.domain.recycling import Deposit

    ReportBody = TelemetryMessage | StatusMessage | PresenceEvent | ShadowDocuments


@dataclass(frozen=True)
class Refusal:
    """A message that cannot be believed: `reason` is its quarantine reason (docs/design.md),
    `details` says why, `payload` is what admins may see of it (the quarantine store
    redacts it). `device_id` is None when the envelope did not name a usable device."""

    reason: str
    device_id: str | None
    details: str
    payload: str | None
    event_id: str | None = None
    only_for: DeviceType | None = None
    """The refusal stands only if the device is of this type: a shadow document belongs
    to the fleet only when its thing is a shelter (another thing's is ignored)."""
    envelope: str | None = None
    """The queue message as it arrived (set by the intake), for a quarantine that keeps it
    sealed so an operator can reprocess it; never shown."""


@dataclass(frozen=True)
class DepositMessage:
    """A robot's deposit, typed; `received_at` is IoT Core's receipt time (None: now)."""

    device_id: str
    deposit: Deposit
    received_at: datetime | None
    text: str
    envelope: str | None = None
    """The queue message as it arrived (see Refusal.envelope)."""


@dataclass(frozen=True)
class DeviceReport:
    """A shelter's or robot's report on one fleet channel, typed by its channel's model."""

    device_id: str
    channel: str
    body: ReportBody
    received_at: datetime | None
    text: str
