"""PynamoDB models: the one source for every table (keys, indexes, streams, TTL).

The CDK app and the local stack both derive their tables from `ALL_MODELS`; adding a model
here adds a table everywhere. Table names come from configuration (chalicelib.config).
"""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.models import Model

from chalicelib import config


class _Meta:
    region = config.region()
    billing_mode = "PAY_PER_REQUEST"


class Citizen(Model):
    """A citizen's profile and point balance. `balance == sum(ledger points)` always."""

    class Meta(_Meta):
        table_name = config.resource_name(config.CITIZENS_TABLE, "citizens")

    citizen_id = UnicodeAttribute(hash_key=True)
    display_name = UnicodeAttribute()
    district = UnicodeAttribute()
    balance = NumberAttribute(default=0)
    lifetime_earned = NumberAttribute(default=0)
    lifetime_paid = NumberAttribute(default=0)
    phone_hash = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class LedgerEntry(Model):
    """One movement of points. `entry_id` sorts in the order the balance moved (the
    citizen's version first, then time), so a query reads newest first."""

    class Meta(_Meta):
        table_name = config.resource_name(config.LEDGER_TABLE, "ledger")
        stream_view_type = "NEW_IMAGE"

    citizen_id = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    points = NumberAttribute()
    balance_after = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    source_key = UnicodeAttribute()
    detail = MapAttribute[str, object](default=dict)


class ProcessedEvent(Model):
    """The exactly-once guard: written in the same transaction as the effect it guards.

    It keeps the first result so a redelivery gets the same answer: `duplicate` with the
    first points and balance, or the same rejection.
    """

    class Meta(_Meta):
        table_name = config.resource_name(config.PROCESSED_EVENTS_TABLE, "processed-events")

    event_key = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute(default="credited")
    citizen_id = UnicodeAttribute(null=True)
    points = NumberAttribute(default=0)
    balance_after = NumberAttribute(null=True)
    entry_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    processed_at = UTCDateTimeAttribute()
    expires = TTLAttribute()


class DepositCode(Model):
    """A one-time 6-digit code a citizen shows at a robot; consumed by the first deposit."""

    class Meta(_Meta):
        table_name = config.resource_name(config.DEPOSIT_CODES_TABLE, "deposit-codes")

    code = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute()
    issued_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    used_by = UnicodeAttribute(null=True)
    expires = TTLAttribute()


class CitizenDay(Model):
    """Per citizen and Seoul day: items credited (the daily limit's counter)."""

    class Meta(_Meta):
        table_name = config.resource_name(config.CITIZEN_DAYS_TABLE, "citizen-days")

    citizen_id = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(range_key=True)
    items_credited = NumberAttribute(default=0)
    version = VersionAttribute()
    expires = TTLAttribute(null=True)


class PhoneLink(Model):
    """Keyed hash of a phone number -> citizen. The raw number is never stored."""

    class Meta(_Meta):
        table_name = config.resource_name(config.PHONE_LINKS_TABLE, "phone-links")

    phone_hash = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute()
    linked_at = UTCDateTimeAttribute()


class Device(Model):
    """A registered robot or shelter: what the city knows about it."""

    class Meta(_Meta):
        table_name = config.resource_name(config.DEVICES_TABLE, "devices")

    device_id = UnicodeAttribute(hash_key=True)
    device_type = UnicodeAttribute()
    name = UnicodeAttribute()
    district = UnicodeAttribute()
    lat = NumberAttribute()
    lon = NumberAttribute()
    registered_at = UTCDateTimeAttribute()


class QuarantinedMessage(Model):
    """A message that could not be processed, with its reason, for admins to see."""

    class Meta(_Meta):
        table_name = config.resource_name(config.QUARANTINE_TABLE, "quarantine")

    source = UnicodeAttribute(hash_key=True)
    quarantine_id = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()
    device_id = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    details = UnicodeAttribute(null=True)
    payload = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute()
    expires = TTLAttribute()


class RateWindow(Model):
    """A fixed-window counter for one citizen's action (e.g. deposit codes issued)."""

    class Meta(_Meta):
        table_name = config.resource_name(config.RATE_WINDOWS_TABLE, "rate-windows")

    window_key = UnicodeAttribute(hash_key=True)
    window_start = NumberAttribute()
    uses = NumberAttribute()
    expires = TTLAttribute()


ALL_MODELS: tuple[type[Model], ...] = (
    Citizen,
    LedgerEntry,
    ProcessedEvent,
    DepositCode,
    CitizenDay,
    PhoneLink,
    Device,
    QuarantinedMessage,
    RateWindow,
)
