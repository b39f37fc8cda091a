"""PynamoDB models: the one source for every table (keys, indexes, streams, TTL).

The CDK app and the local stack both derive their tables from `ALL_MODELS`; adding a model
here adds a table everywhere. A table's name is read from configuration when it is used
(`<prefix>-<logical>`), never fixed at import, and every model talks through the one
DynamoDB client of the container (chalicelib.adapters.aws_clients).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import TableConnection
from pynamodb.expressions.operand import Path
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
)
from pynamodb.models import Model

from chalicelib import config
from chalicelib.adapters import aws_clients


class _TableName:
    """`Meta.table_name`, read at each use: `<prefix>-<logical>`."""

    def __init__(self, logical: str) -> None:
        self.logical = logical

    def __get__(self, instance: object, owner: type) -> str:
        return config.table_name(self.logical)


class _Region:
    def __get__(self, instance: object, owner: type) -> str:
        return config.region()


class _Meta:
    region: Any = _Region()
    billing_mode = "PAY_PER_REQUEST"


class CityModel(Model):
    """A table of the city: its name from configuration, its client the container's one."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        connection = super()._get_connection()
        aws_clients.share_dynamodb_client(connection.connection)
        return connection


def logical_name(model: type[Model]) -> str:
    """The table's name without the stage prefix (`citizens`)."""
    table_name = model.Meta.__dict__["table_name"]
    assert isinstance(table_name, _TableName), f"{model.__name__}: use _TableName"
    return table_name.logical


class PayoutEligibleIndex(GlobalSecondaryIndex["Citizen"]):
    """Sparse: only citizens whose balance reached the payout threshold carry a bucket.

    A payout run queries each bucket instead of scanning the table; the buckets spread a run
    over 1,000,000 citizens across partitions and across the run's chunks.
    """

    class Meta:
        index_name = "payout-eligible"
        projection = KeysOnlyProjection()

    payout_bucket = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute(range_key=True)


class Citizen(CityModel):
    """A citizen's profile and point balance. `balance == sum(ledger points)` always."""

    class Meta(_Meta):
        table_name = _TableName("citizens")

    citizen_id = UnicodeAttribute(hash_key=True)
    display_name = UnicodeAttribute()
    district = UnicodeAttribute()
    balance = NumberAttribute(default=0)
    lifetime_earned = NumberAttribute(default=0)
    lifetime_paid = NumberAttribute(default=0)
    phone_hash = UnicodeAttribute(null=True)
    name_version = NumberAttribute(null=True)
    """Counts changes of the display name only (postings move `version`): boards keep the
    name of the newest, and it is the same however deposits interleave with a rename."""
    payout_bucket = UnicodeAttribute(null=True)
    payout_eligible = PayoutEligibleIndex()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()
    closed_at = UTCDateTimeAttribute(null=True)
    """Set when the citizen closed the account: the row is then a tombstone holding only
    what the ledger's audit needs (balance, lifetime totals, version) and the district,
    never a name or a phone (docs/account-closing.md)."""


class LedgerEntry(CityModel):
    """One movement of points. `entry_id` sorts in the order the balance moved (the
    citizen's version first, then time), so a query reads newest first."""

    class Meta(_Meta):
        table_name = _TableName("ledger")
        stream_view_type = "NEW_IMAGE"

    citizen_id = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    points = NumberAttribute()
    balance_after = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    source_key = UnicodeAttribute()
    detail = MapAttribute[str, object](default=dict)


class ProcessedEvent(CityModel):
    """The exactly-once guard: written in the same transaction as the effect it guards.

    It keeps the first result so a redelivery gets the same answer: `duplicate` with the
    first points and balance, or the same rejection.
    """

    class Meta(_Meta):
        table_name = _TableName("processed-events")

    event_key = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute(default="credited")
    citizen_id = UnicodeAttribute(null=True)
    points = NumberAttribute(default=0)
    balance_after = NumberAttribute(null=True)
    entry_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    processed_at = UTCDateTimeAttribute()
    expires = TTLAttribute()


class DepositCode(CityModel):
    """A one-time 6-digit code a citizen shows at a robot; consumed by the first deposit.
    Kept under `code#<6 digits>#<issue slot>` (domain.citizens.grant_key); rows of the old
    layout, under the bare number, are read until their TTL has removed them."""

    class Meta(_Meta):
        table_name = _TableName("deposit-codes")

    code = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute()
    issued_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    used_by = UnicodeAttribute(null=True)
    expires = TTLAttribute()
    # The holder's account when the code was issued (a snapshot; see chalicelib.domain.ledger).
    account_version = NumberAttribute(null=True)
    account_balance = NumberAttribute(null=True)
    account_phone_hash = UnicodeAttribute(null=True)


class CitizenDay(CityModel):
    """Per citizen and Seoul day: items credited (the daily limit's counter)."""

    class Meta(_Meta):
        table_name = _TableName("citizen-days")

    citizen_id = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(range_key=True)
    items_credited = NumberAttribute(default=0)
    expires = TTLAttribute(null=True)


class PhoneLink(CityModel):
    """Keyed hash of a phone number -> citizen. The raw number is never stored."""

    class Meta(_Meta):
        table_name = _TableName("phone-links")

    phone_hash = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute()
    linked_at = UTCDateTimeAttribute()
    # The citizen's account as of the last posting (a snapshot, refreshed by every posting).
    account_version = NumberAttribute(null=True)
    account_balance = NumberAttribute(null=True)
    # Set when the holder proved the number by SMS code; absent on links made before proof
    # was required (they keep working until their holder or a prover re-links the number).
    proven_at = UTCDateTimeAttribute(null=True)
    verification_id = UnicodeAttribute(null=True)


class Device(CityModel):
    """A registered robot or shelter: what the city knows about it."""

    class Meta(_Meta):
        table_name = _TableName("devices")

    device_id = UnicodeAttribute(hash_key=True)
    device_type = UnicodeAttribute()
    name = UnicodeAttribute()
    district = UnicodeAttribute()
    lat = NumberAttribute()
    lon = NumberAttribute()
    registered_at = UTCDateTimeAttribute()


class QuarantinedMessage(CityModel):
    """A message that could not be processed, with its reason, for admins to see; an
    operator reprocesses or discards it once (`status`: absent on rows from before, read as
    open). `original` is the queue message as it arrived, sealed under the data key
    (adapters.kms_secrets.seal): never shown, read only to reprocess it."""

    class Meta(_Meta):
        table_name = _TableName("quarantine")

    source = UnicodeAttribute(hash_key=True)
    quarantine_id = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()
    device_id = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    details = UnicodeAttribute(null=True)
    payload = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute()
    expires = TTLAttribute()
    original = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    outcome = MapAttribute[str, object](null=True)
    claim_id = UnicodeAttribute(null=True)
    """The reprocess running on it (a lease until `claimed_until`): one at a time."""
    claimed_until = UTCDateTimeAttribute(null=True)


class RateWindow(CityModel):
    """A fixed-window counter for one citizen's action (e.g. deposit codes issued)."""

    class Meta(_Meta):
        table_name = _TableName("rate-windows")

    window_key = UnicodeAttribute(hash_key=True)
    window_start = NumberAttribute()
    uses = NumberAttribute()
    expires = TTLAttribute()


class CityTotal(CityModel):
    """Running totals of the city's points and items, kept from the ledger's stream: one row
    for all time (`all`) and one per Seoul day (`day#2026-11-25`)."""

    class Meta(_Meta):
        table_name = _TableName("city-totals")

    period = UnicodeAttribute(hash_key=True)
    points_issued = NumberAttribute(default=0)
    points_paid = NumberAttribute(default=0)
    points_forfeited = NumberAttribute(default=0)
    items_recycled = NumberAttribute(default=0)
    entries = NumberAttribute(default=0)
    expires = TTLAttribute(null=True)


class StepDay(CityModel):
    """A citizen's step count for one Seoul day: only ever raised (a conditional write), so
    it is the maximum ever accepted (invariant 4). Its stream feeds boards and challenges."""

    class Meta(_Meta):
        table_name = _TableName("step-days")
        stream_view_type = "NEW_IMAGE"

    citizen_id = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(range_key=True)
    steps = NumberAttribute()
    district = UnicodeAttribute()
    display_name = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires = TTLAttribute()
    name_version = NumberAttribute(null=True)
    """The citizen's version when display_name was read: the newest name wins on boards."""


# -- Walking: step leaderboards (chalicelib.adapters.dynamodb_boards) ---------------------


class BoardScoreIndex(GlobalSecondaryIndex["BoardEntry"]):
    """A board's entries by score: the top N is one descending query of one board."""

    class Meta:
        index_name = "by-score"
        projection = IncludeProjection(["display_name"])

    board = UnicodeAttribute(hash_key=True)
    score = NumberAttribute(range_key=True)


class BoardEntry(CityModel):
    """One citizen on one step board (`day#2026-11-25#city`): the day counts it covers, and
    `score`, their sum. Kept from the step table's stream; expires with its period."""

    class Meta(_Meta):
        table_name = _TableName("board-entries")

    board = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute(range_key=True)
    score = NumberAttribute(null=True)
    """Absent on a month's walkers' entry: the score index is sparse, so it never holds one."""
    days = MapAttribute[str, object](default=dict)
    display_name = UnicodeAttribute()
    name_key = UnicodeAttribute()
    version = VersionAttribute()
    expires = TTLAttribute()
    by_score = BoardScoreIndex()


class BoardCount(CityModel):
    """A node of a board's count tree (`<board>#t`, `#m<n>`, `#l<n>`) or a period's district
    totals (`<period>#districts`): counters are top-level number attributes (`n<bucket>`,
    `d:<district>`), named at run time, so only the key and TTL are declared."""

    class Meta(_Meta):
        table_name = _TableName("board-counts")

    node = UnicodeAttribute(hash_key=True)
    expires = TTLAttribute()


# -- Challenges (DESIGN §4 "Challenges") --------------------------------------------------


class ChallengesByEndIndex(GlobalSecondaryIndex["Challenge"]):
    """Every challenge of the city under one partition, sorted by end day: the listing of
    open and recent ones is one Query (a city runs dozens, not millions)."""

    class Meta:
        index_name = "by-end"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    ends_on = UnicodeAttribute(range_key=True)


class Challenge(CityModel):
    """A challenge, its finisher counter and last finish key (ranks follow finish order),
    and for lotteries the secret seed (served only once drawn) and the draw once made."""

    class Meta(_Meta):
        table_name = _TableName("challenges")

    challenge_id = UnicodeAttribute(hash_key=True)
    listing = UnicodeAttribute(default="all")
    by_end = ChallengesByEndIndex()
    title = UnicodeAttribute()
    kind = UnicodeAttribute()
    starts_on = UnicodeAttribute()
    ends_on = UnicodeAttribute()
    target = NumberAttribute()
    daily_cap = NumberAttribute(null=True)
    daily_goal = NumberAttribute(null=True)
    district = UnicodeAttribute(null=True)
    prize_type = UnicodeAttribute()
    prize_points = NumberAttribute()
    prize_winners = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    seed = UnicodeAttribute(null=True)
    commitment = UnicodeAttribute(null=True)
    finishers = NumberAttribute(default=0)
    last_finish_key = UnicodeAttribute(null=True)
    drawn_at = UTCDateTimeAttribute(null=True)
    draw_finishers = ListAttribute[str](null=True)
    finisher_digest = UnicodeAttribute(null=True)
    draw_winners = ListAttribute[str](null=True)
    expires = TTLAttribute()
    draw_scheme = UnicodeAttribute(null=True)
    """`pseudonyms-v1`; absent on draws recorded with citizen ids (never published)."""


class FinishersIndex(GlobalSecondaryIndex["ChallengeEntry"]):
    """Sparse: only finished entries carry a finish key. A challenge's finishers in finish
    order, one Query (the lottery draw reads them)."""

    class Meta:
        index_name = "finishers"
        projection = KeysOnlyProjection()

    challenge_id = UnicodeAttribute(hash_key=True)
    finish_key = UnicodeAttribute(range_key=True)


class ChallengeEntry(CityModel):
    """A citizen's entry in a challenge: a citizen's joined challenges are one Query, one
    entry one GetItem. Written under `version` (read, merge, write on condition)."""

    class Meta(_Meta):
        table_name = _TableName("challenge-entries")
        stream_view_type = "NEW_AND_OLD_IMAGES"  # the inbox (chalicelib.events.notifications)

    citizen_id = UnicodeAttribute(hash_key=True)
    challenge_id = UnicodeAttribute(range_key=True)
    joined_at = UTCDateTimeAttribute()
    district = UnicodeAttribute()
    days = UnicodeAttribute(default="{}")
    """Steps per day of the window, JSON `{"2026-11-25": 10342}` (rewritten whole)."""
    items = NumberAttribute(default=0)
    finished_at = UTCDateTimeAttribute(null=True)
    finish_rank = NumberAttribute(null=True)
    finish_key = UnicodeAttribute(null=True)
    finishers = FinishersIndex()
    prize_awarded = BooleanAttribute(default=False)
    version = NumberAttribute(default=0)
    expires = TTLAttribute()


class DrawPage(CityModel):
    """A page of a recorded lottery draw's lists, kept in the entries table (ChallengeEntry's,
    so not in ALL_MODELS) under a key no citizen has: `draw#<challenge>#<digest>`, then
    `f00000`.. (finishers), `w`.. (winners), `i`.. (the winners' citizen ids, never
    published). A city-wide draw's lists are far beyond one item's 400 KB."""

    class Meta(_Meta):
        table_name = _TableName("challenge-entries")

    pages_key = UnicodeAttribute(hash_key=True, attr_name="citizen_id")
    page = UnicodeAttribute(range_key=True, attr_name="challenge_id")
    ids = ListAttribute[str]()
    expires = TTLAttribute()


# -- Shelters and robots ------------------------------------------------------------------
# (chalicelib.adapters.dynamodb_fleet writes these with conditional update actions.)


class FleetTime(UTCDateTimeAttribute):
    """UTCDateTimeAttribute, that also reads `2026-11-25T12:34:00.000000Z`: how the fleet's
    items spelled a time before they were written through these models (a running stack's
    items keep it until a message rewrites them)."""

    def deserialize(self, value: str) -> datetime:
        return super().deserialize(value[:-1] + "+0000" if value.endswith("Z") else value)


class FleetGroupIndex(GlobalSecondaryIndex["DeviceState"]):
    """Every device of a kind in a city (`gimhae#shelter`), sorted by district then id: the
    city's list is one Query, a district's a Query on the `<district>#` prefix."""

    class Meta:
        index_name = "by-group"
        projection = AllProjection()

    fleet_group = UnicodeAttribute(hash_key=True)
    place = UnicodeAttribute(range_key=True)


class FleetGeoIndex(GlobalSecondaryIndex["DeviceState"]):
    """Every device of a kind in a city by its place on the map (`geohash`: precision 9,
    chalicelib.domain.geo), with its exact location: a geohash cell, or a run of cells, is
    one Query range ("near me", DESIGN §4c). Only the location is projected, so a device's
    messages never write to this index; it changes when a device is placed or moved."""

    class Meta:
        index_name = "by-geo"
        projection = IncludeProjection(["lat", "lon"])

    fleet_group = UnicodeAttribute(hash_key=True)
    geohash = UnicodeAttribute(range_key=True)


class DeviceState(CityModel):
    """A device's latest state (air, chargers, bins, presence, open alerts and the alert
    outbox), one item per device. Written only by messages newer than what it holds."""

    class Meta(_Meta):
        table_name = _TableName("device-states")

    device_id = UnicodeAttribute(hash_key=True)
    fleet_group = UnicodeAttribute()
    place = UnicodeAttribute()
    by_group = FleetGroupIndex()
    device_type = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    district = UnicodeAttribute(default="")
    lat = NumberAttribute(default=0)
    lon = NumberAttribute(default=0)
    geohash = UnicodeAttribute(null=True)
    """The cell of `lat`/`lon` (chalicelib.domain.geo.geohash), written with them: the key of
    `by_geo`. Absent on rows from before the index: provisioning the device again fills it."""
    by_geo = FleetGeoIndex()
    online = BooleanAttribute(default=False)
    last_seen = FleetTime(null=True)
    pm10 = NumberAttribute(null=True)
    pm25 = NumberAttribute(null=True)
    grade = UnicodeAttribute(null=True)
    air_at = FleetTime(null=True)
    temp_c = NumberAttribute(null=True)
    humidity = NumberAttribute(null=True)
    co2_ppm = NumberAttribute(null=True)
    occupancy = NumberAttribute(null=True)
    chargers_total = NumberAttribute(null=True)
    chargers_in_use = NumberAttribute(null=True)
    bins = MapAttribute[str, float](null=True)
    """Fill level per material, 0..1."""
    fault = UnicodeAttribute(null=True)
    fw = UnicodeAttribute(null=True)
    accepting = BooleanAttribute(null=True)
    """Whether a robot takes deposits: a deposit's first look reads it too."""
    purifier_reported = UnicodeAttribute(null=True)
    purifier_desired = UnicodeAttribute(null=True)
    shadow_desired = UnicodeAttribute(null=True)
    shadow_version = NumberAttribute(null=True)
    override = MapAttribute[str, Any](null=True)
    """An operator's hold on the purifier: `{"id", "mode", "until", "by"}` (`id` is the
    override's action id; `until` a UTCDateTimeAttribute text). Absent when none."""
    alerts = MapAttribute[str, Any](default=dict)
    """The open alert episodes by kind: `{"since": <UTCDateTimeAttribute text>, "detail"}`."""
    air_episode = UnicodeAttribute(null=True)
    air_worst = UnicodeAttribute(null=True)
    air_calm_since = FleetTime(null=True)
    telemetry_ts = FleetTime(null=True)
    status_ts = FleetTime(null=True)
    presence_order = NumberAttribute(null=True)
    quarantined = NumberAttribute(null=True)
    deposits_not_accepting = NumberAttribute(null=True)
    outbox = MapAttribute[str, str](default=dict)
    """Notices not yet delivered, by key: each a JSON document with its `written_at`."""


class AirHour(CityModel):
    """A shelter's air for one UTC hour: a slot per minute (the readings) and the sums
    the hourly means come from, so an air history is a Query of at most 168 small items."""

    class Meta(_Meta):
        table_name = _TableName("air-hours")

    device_id = UnicodeAttribute(hash_key=True)
    hour = UnicodeAttribute(range_key=True)
    pm10_sum = NumberAttribute(null=True)
    pm10_n = NumberAttribute(null=True)
    pm25_sum = NumberAttribute(null=True)
    pm25_n = NumberAttribute(null=True)
    expires = NumberAttribute(null=True)
    """Epoch seconds, 30 days after the hour (the table has no TTL on it yet)."""

    @staticmethod
    def minute(minute: int) -> Path:
        """The slot of one minute's reading (`m00`..`m59`: pm10, pm25, ts), written once."""
        return Path(f"m{minute:02d}")


# -- Payouts and ledger audits ------------------------------------------------------------
# Financial records (accounts, runs, items, who exported and settled) are kept five years
# (TTL); job chunks and audits, which only drive or report a job, much shorter.


class PayoutAccount(CityModel):
    """Where a citizen is paid: the bank's code, the account number encrypted with the data
    key (KMS, bound to the citizen by its encryption context), its last 4 digits for the
    masked view, and the holder's name. The number is never stored in clear."""

    class Meta(_Meta):
        table_name = _TableName("payout-accounts")

    citizen_id = UnicodeAttribute(hash_key=True)
    bank_code = UnicodeAttribute()
    account_ciphertext = UnicodeAttribute()
    account_last4 = UnicodeAttribute()
    holder = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()


class RunsByPeriodIndex(GlobalSecondaryIndex["PayoutRun"]):
    """Every run under one constant key, by period: the newest-first list is one Query (one
    run a month: centuries fit in a partition)."""

    class Meta:
        index_name = "by-period"
        projection = AllProjection()

    listed = UnicodeAttribute(hash_key=True)
    period = UnicodeAttribute(range_key=True)


class PayoutRun(CityModel):
    """One payout run per period (`run_id` derives from the period, so two starts meet on one
    conditional put). Chunk counters move it `running` -> `ready`; a second person moves it
    to `approved`; settlement counters move it to `settled`. `exports` holds each served
    file's SHA-256 by format."""

    class Meta(_Meta):
        table_name = _TableName("payout-runs")

    run_id = UnicodeAttribute(hash_key=True)
    listed = UnicodeAttribute(default="runs")
    by_period = RunsByPeriodIndex()
    period = UnicodeAttribute()
    status = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    started_by = UnicodeAttribute()
    chunks_expected = NumberAttribute(default=0)
    chunks_done = NumberAttribute(default=0)
    citizens = NumberAttribute(default=0)
    total_points = NumberAttribute(default=0)
    skipped_no_account = NumberAttribute(default=0)
    skipped_below_threshold = NumberAttribute(default=0)
    paid_items = NumberAttribute(default=0)
    paid_points = NumberAttribute(default=0)
    failed_items = NumberAttribute(default=0)
    failed_points = NumberAttribute(default=0)
    ready_at = UTCDateTimeAttribute(null=True)
    approved_at = UTCDateTimeAttribute(null=True)
    approved_by = UnicodeAttribute(null=True)
    exports = MapAttribute[str, object](default=dict)
    settled_at = UTCDateTimeAttribute(null=True)
    expires = TTLAttribute()


class PayoutItemsByCitizenIndex(GlobalSecondaryIndex["PayoutItem"]):
    """A citizen's payouts, newest run first (`GET /v1/me/payouts`): the figures a citizen
    sees, never the account number's ciphertext or the holder."""

    class Meta:
        index_name = "by-citizen"
        projection = IncludeProjection(["period", "amount", "status", "created_at", "settled_at"])

    citizen_id = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)


class PayoutItem(CityModel):
    """A citizen paid by a run: written in the same transaction as the debit (the ledger's
    `PayoutRecorded` effect); `pending` until settled `paid` or `failed`."""

    class Meta(_Meta):
        table_name = _TableName("payout-items")
        stream_view_type = "NEW_AND_OLD_IMAGES"  # the inbox (chalicelib.events.notifications)

    run_id = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute(range_key=True)
    by_citizen = PayoutItemsByCitizenIndex()
    period = UnicodeAttribute()
    amount = NumberAttribute()
    bank_code = UnicodeAttribute()
    account_ciphertext = UnicodeAttribute()
    account_last4 = UnicodeAttribute()
    holder = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")
    created_at = UTCDateTimeAttribute()
    settled_at = UTCDateTimeAttribute(null=True)
    settled_by = UnicodeAttribute(null=True)
    expires = TTLAttribute()


class PayoutSkipsByCitizenIndex(GlobalSecondaryIndex["PayoutSkip"]):
    """The runs that skipped a citizen, newest first (`GET /v1/me/payouts`)."""

    class Meta:
        index_name = "by-citizen"
        projection = IncludeProjection(["reason", "at"])

    citizen_id = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)


class PayoutSkip(CityModel):
    """A citizen a run's chunk skipped and why (`no_account`, `below_threshold`), written in
    the transaction that counts the chunk, so each is recorded once with the run's counters.
    `skip_key` is `<reason>#<citizen_id>`: one reason's citizens are one key-range Query."""

    class Meta(_Meta):
        table_name = _TableName("payout-skips")
        stream_view_type = "NEW_IMAGE"  # the inbox (chalicelib.events.notifications)

    run_id = UnicodeAttribute(hash_key=True)
    skip_key = UnicodeAttribute(range_key=True)
    citizen_id = UnicodeAttribute()
    by_citizen = PayoutSkipsByCitizenIndex()
    reason = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    expires = TTLAttribute()


class JobChunk(CityModel):
    """One page of a fanned-out job (a payout run's bucket page, an audit's scan page): its
    members are fixed the first time it runs, so a redelivery works on the same citizens and
    names the same next chunk; `done` flips once, with the job's counters."""

    class Meta(_Meta):
        table_name = _TableName("job-chunks")

    job_id = UnicodeAttribute(hash_key=True)
    chunk_key = UnicodeAttribute(range_key=True)
    members = ListAttribute[str](default=list)
    next_start = UnicodeAttribute(null=True)
    done = BooleanAttribute(default=False)
    paid = NumberAttribute(null=True)
    """Payments made by this chunk (each in its posting's transaction)."""
    expires = TTLAttribute()


class LedgerAudit(CityModel):
    """A ledger audit (invariants 2 and 3): counters summed from its chunks, the first
    discrepancies, and the city-wide totals when every chunk is done. `kind` is constant
    (`ledger`), so the latest audit is one query, newest first."""

    class Meta(_Meta):
        table_name = _TableName("ledger-audits")

    kind = UnicodeAttribute(hash_key=True)
    audit_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    started_by = UnicodeAttribute()
    chunks_expected = NumberAttribute(default=0)
    chunks_done = NumberAttribute(default=0)
    citizens_checked = NumberAttribute(default=0)
    discrepancy_count = NumberAttribute(default=0)
    discrepancies = ListAttribute[MapAttribute[str, object]](default=list)
    points_issued = NumberAttribute(default=0)
    points_paid = NumberAttribute(default=0)
    points_held = NumberAttribute(default=0)
    points_forfeited = NumberAttribute(default=0)
    totals = MapAttribute[str, object](null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    expires = TTLAttribute()


# -- City stats and monthly reports -------------------------------------------------------


class CitizenMonth(CityModel):
    """A citizen's items credited in a Seoul month, by material (counters `m_<material>`, named
    at run time), kept from the ledger's stream for the monthly recycling report. The month's
    rows are spread over a few partitions (`2026-11#3`), each read by one paged Query."""

    class Meta(_Meta):
        table_name = _TableName("citizen-months")

    shard = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute(range_key=True)
    items = NumberAttribute(default=0)
    district = UnicodeAttribute(null=True)
    """The citizen's district when their latest credit of the month was counted."""
    expires = TTLAttribute(null=True)


# -- Phone numbers proven by SMS code (DESIGN §4) -----------------------------------------


class PhoneVerification(CityModel):
    """One SMS code sent to a number for a citizen: the number's and the code's keyed hashes
    only, its tries left (spent by conditional writes) and its life."""

    class Meta(_Meta):
        table_name = _TableName("phone-verifications")

    verification_id = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute()
    phone_hash = UnicodeAttribute()
    code_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    tries_left = NumberAttribute()
    status = UnicodeAttribute()  # pending | spent
    expires = TTLAttribute()


class Notification(CityModel):
    """A message in a citizen's inbox (DESIGN §4c), newest first by `notification_id`. Its
    stream feeds push (chalicelib.events.notifications): the inbox write comes first."""

    class Meta(_Meta):
        table_name = _TableName("notifications")
        stream_view_type = "NEW_IMAGE"

    citizen_id = UnicodeAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    body = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    read = BooleanAttribute(default=False)


class InboxCounter(CityModel):
    """A citizen's unread count, in the inbox's own partition under `~inbox` (so not in
    ALL_MODELS): moved only in the transactions that add a notification or mark some read,
    so it is exact under replay, and `unread` is one read."""

    class Meta(_Meta):
        table_name = _TableName("notifications")

    citizen_id = UnicodeAttribute(hash_key=True)
    counter_key = UnicodeAttribute(range_key=True, attr_name="notification_id")
    unread = NumberAttribute(default=0)


class PushTokensByCitizenIndex(GlobalSecondaryIndex["PushToken"]):
    """A citizen's phones: the push of a notification is one Query."""

    class Meta:
        index_name = "by-citizen"
        projection = AllProjection()

    citizen_id = UnicodeAttribute(hash_key=True)
    token_key = UnicodeAttribute(range_key=True)


class PushToken(CityModel):
    """A phone's push token and its one owner: keyed by the token's digest, so a token a
    second citizen registers moves to them (one phone, one owner). `endpoint_arn` is its
    SNS platform endpoint (absent while push is off for its platform)."""

    class Meta(_Meta):
        table_name = _TableName("push-tokens")

    token_key = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute()
    by_citizen = PushTokensByCitizenIndex()
    platform = UnicodeAttribute()
    token = UnicodeAttribute()
    endpoint_arn = UnicodeAttribute(null=True)
    registered_at = UTCDateTimeAttribute()


# -- Operators' alerts (DESIGN §4b) --------------------------------------------------------

_ALERT_LIST_FIELDS = [
    "device_id",
    "device_type",
    "district",
    "kind",
    "severity",
    "status",
    "acknowledged",
    "acknowledged_by",
    "acknowledged_at",
    "assignee",
    "raised_at",
    "cleared_at",
    "updated_at",
    "detail",
]
"""What a list shows of an alert: everything but its timeline (the bulk of a busy alert)."""


class AlertsByStatusIndex(GlobalSecondaryIndex["Alert"]):
    """A city's active (or cleared) alerts, most recently updated first: `feed` is
    `<city>#active` or `<city>#cleared`, `updated_key` `<updated_at>#<alert_id>`."""

    class Meta:
        index_name = "by-status"
        projection = IncludeProjection(_ALERT_LIST_FIELDS)

    feed = UnicodeAttribute(hash_key=True)
    updated_key = UnicodeAttribute(range_key=True)


class AlertsByCityIndex(GlobalSecondaryIndex["Alert"]):
    """Every alert of a city, active or cleared, most recently updated first."""

    class Meta:
        index_name = "by-city"
        projection = IncludeProjection(_ALERT_LIST_FIELDS)

    city = UnicodeAttribute(hash_key=True)
    updated_key = UnicodeAttribute(range_key=True)


class AlertTimelineEntry(MapAttribute[str, Any]):
    at = UTCDateTimeAttribute()
    event = UnicodeAttribute()
    by = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)


class Alert(CityModel):
    """An operators' alert (chalicelib.domain.alerts): raised and cleared by the fleet's
    rules in the same transaction as the device's episode, acknowledged, assigned, commented
    on and (faults, full bins) cleared by staff. Its timeline is a list on the item, so an
    alert with its history is one GetItem. Kept two years after it is cleared."""

    class Meta(_Meta):
        table_name = _TableName("alerts")

    alert_id = UnicodeAttribute(hash_key=True)
    city = UnicodeAttribute()
    feed = UnicodeAttribute()
    updated_key = UnicodeAttribute()
    by_status = AlertsByStatusIndex()
    by_city = AlertsByCityIndex()
    device_id = UnicodeAttribute()
    device_type = UnicodeAttribute()
    district = UnicodeAttribute()
    kind = UnicodeAttribute()
    severity = UnicodeAttribute()
    status = UnicodeAttribute()
    acknowledged = BooleanAttribute(default=False)
    acknowledged_by = UnicodeAttribute(null=True)
    acknowledged_at = UTCDateTimeAttribute(null=True)
    assignee = UnicodeAttribute(null=True)
    raised_at = UTCDateTimeAttribute()
    cleared_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    detail = UnicodeAttribute(default="")
    timeline = ListAttribute(of=AlertTimelineEntry, default=list)
    expires = TTLAttribute(null=True)


# -- The staff action log (DESIGN §4b) -----------------------------------------------------


class ActionsByActorIndex(GlobalSecondaryIndex["StaffAction"]):
    class Meta:
        index_name = "by-actor"
        projection = AllProjection()

    actor = UnicodeAttribute(hash_key=True)
    action_id = UnicodeAttribute(range_key=True)


class ActionsByTargetIndex(GlobalSecondaryIndex["StaffAction"]):
    class Meta:
        index_name = "by-target"
        projection = AllProjection()

    target = UnicodeAttribute(hash_key=True)
    action_id = UnicodeAttribute(range_key=True)


class StaffAction(CityModel):
    """One staff write, appended and never changed: who (and in which roles) did what to
    what, when. `log` is constant: staff act a few thousand times a day at most, far under
    one partition's limits, so the newest-first list is one Query; the indexes serve the
    look-ups by person and by target. Kept 5 years."""

    class Meta(_Meta):
        table_name = _TableName("staff-actions")

    log = UnicodeAttribute(hash_key=True)
    action_id = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    roles = ListAttribute[str](default=list)
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    detail = MapAttribute[str, object](default=dict)
    expires = TTLAttribute()
    by_actor = ActionsByActorIndex()
    by_target = ActionsByTargetIndex()


# -- Corrections (DESIGN §4b): proposed by support, approved once by finance ---------------


class CorrectionsByStatusIndex(GlobalSecondaryIndex["Correction"]):
    """The queue of corrections in one status, newest first (`correction_id` sorts by time)."""

    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    correction_id = UnicodeAttribute(range_key=True)


class Correction(CityModel):
    """A correction of a citizen's points: `pending` until a second person approves it
    (posted as a ledger entry of kind `correction`, in the same transaction as this row's
    move to `approved`) or rejects it. Kept 5 years, as payment records are."""

    class Meta(_Meta):
        table_name = _TableName("corrections")

    correction_id = UnicodeAttribute(hash_key=True)
    citizen_id = UnicodeAttribute()
    points = NumberAttribute()
    reason = UnicodeAttribute()
    reference = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    proposed_by = UnicodeAttribute()
    proposed_at = UTCDateTimeAttribute()
    decided_by = UnicodeAttribute(null=True)
    decided_at = UTCDateTimeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    entry_id = UnicodeAttribute(null=True)
    balance_after = NumberAttribute(null=True)
    expires = TTLAttribute()
    by_status = CorrectionsByStatusIndex()


# -- The live services' KPIs (DESIGN §4d) ---------------------------------------------------


class KpiValue(CityModel):
    """One KPI of one period as its last computation left it: pk the period
    (`day#2026-12-08`, `week#2026-W50`, `month#2026-12`), sk the KPI's id, so a period's
    KPIs are one Query. Written by the `kpi_refresh` schedule only."""

    class Meta(_Meta):
        table_name = _TableName("kpis")

    period = UnicodeAttribute(hash_key=True)
    kpi_id = UnicodeAttribute(range_key=True)
    service = UnicodeAttribute()
    name = UnicodeAttribute()
    name_en = UnicodeAttribute()
    unit = UnicodeAttribute()
    value = NumberAttribute()
    formula = UnicodeAttribute()
    kind = UnicodeAttribute()
    date = UnicodeAttribute()
    computed_at = UTCDateTimeAttribute()
    expires = TTLAttribute(null=True)


# -- The project registry (DESIGN §4d) ---------------------------------------------------


class Project(CityModel):
    """A smart project of the city's registry. One partition per city: a city keeps
    hundreds of projects at most (Gimhae: 45), a few hundred KB, so the list, the summary and
    the overlap check are each one Query of it (a page is 1 MB: about 2,000 projects), and
    the registry's writes are an admin's few a day. `version` guards a replace."""

    class Meta(_Meta):
        table_name = _TableName("projects")

    city = UnicodeAttribute(hash_key=True)
    project_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    field = UnicodeAttribute()
    department = UnicodeAttribute()
    funding = UnicodeAttribute()
    budget_krw = MapAttribute[str, int](default=dict)
    """Whole KRW by year (`"2020"`): a raw map of numbers."""
    starts_on = UnicodeAttribute()
    ends_on = UnicodeAttribute()
    districts = ListAttribute[str](default=list)
    status = UnicodeAttribute()
    services = ListAttribute[str](default=list)
    notes = UnicodeAttribute(default="")
    sample = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


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
    CityTotal,
    StepDay,
    BoardEntry,
    BoardCount,
    Challenge,
    ChallengeEntry,
    DeviceState,
    AirHour,
    PayoutAccount,
    PayoutRun,
    PayoutItem,
    PayoutSkip,
    JobChunk,
    LedgerAudit,
    CitizenMonth,
    PhoneVerification,
    Notification,
    PushToken,
    StaffAction,
    Correction,
    Alert,
    KpiValue,
    Project,
)
