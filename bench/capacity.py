"""The capacity model: what the real key design asks of DynamoDB, IoT Core and Lambda at
Gimhae's scale and at 50 million users, as code. `render()` returns markdown for
bench/RESULTS.md; every constant says where it comes from (a documented limit, a published
price, docs/design.md, or an assumption stated as one).

Per-event capacity units come from the measurement (`bench_requests`, bench/dynamodb_costs.py)
when one is passed, else from DEFAULT_COSTS (that measurement's values when this was written).
The key design is the one built: the step boards of chalicelib/adapters/dynamodb_boards.py
(an entries partition and a `by-score` index partition per board, a three-level count tree,
one districts row per period, the step stats rows of city-totals), the fleet's
chalicelib/adapters/dynamodb_fleet.py (a state item per device, its `by-group` index entry,
an `air-hours` item per shelter and hour) and the ledger, totals and payout keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.dynamodb_costs import item_size, number_size
from chalicelib import queues, streams
from chalicelib.domain import boards
from chalicelib.domain.districts import districts as city_districts

# Scale (DESIGN §1) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    robots: int
    shelters: int
    districts: int
    """Districts on one stack's boards (one counter each in a period's districts row)."""


# Gimhae's districts: chalicelib/data/districts.json.
GIMHAE = Scale("Gimhae", 200_000, 500, 500, len(city_districts()))
# 50 million users "by adding cities": devices grow with users (250x Gimhae's fleet); on
# one stack, the boards would hold Korea's ~3,500 eup, myeon and dong.
COUNTRY = Scale("50 million users", 50_000_000, 125_000, 125_000, 3_500)
SCALES = (GIMHAE, COUNTRY)
# Boards, totals and the fleet's groups are per stack and city: the largest city alone.
GIMHAE_RESIDENTS = 540_000  # DESIGN §1
LARGEST_CITY_RESIDENTS = 9_400_000  # Seoul, the largest Korean city (~9.4 million residents)
_CITY_FACTOR = LARGEST_CITY_RESIDENTS / GIMHAE_RESIDENTS  # at Gimhae's share of app users
LARGEST_CITY = Scale(
    "the largest city",
    round(GIMHAE.users * _CITY_FACTOR),
    round(GIMHAE.robots * _CITY_FACTOR),
    round(GIMHAE.shelters * _CITY_FACTOR),
    425,  # Seoul's administrative dong: ~425
)

# Peaks and volumes (assumptions, stated) ---------------------------------------------------

DEPOSIT_INTERVAL_S = 20  # peak: every robot busy, one deposit per 20 s
DEPOSITS_PER_ROBOT_DAY = 200  # monthly volume: ~one deposit per 3.6 min over 12 opening hours
STEP_SYNC_HOUR_SHARE = 1.0  # every user syncs once in the evening hour...
STEP_SYNC_PEAK_FACTOR = 2.0  # ...with the busiest minute at twice the hour's average
LARGEST_DISTRICT_SHARE = 0.15  # Gimhae's largest district (a Jangyu dong) holds ~15% of users
TELEMETRY_INTERVAL_S = 60  # shelters: telemetry once a minute (DESIGN §3 presence)
ROBOT_STATUS_INTERVAL_S = 60  # robots: status once a minute (DESIGN §3 presence)
SHELTER_STATUS_PER_HOUR = 1  # shelters: status on change; assume one an hour
# Each evening sync raises today and yesterday (the steps walked after yesterday's last sync):
# two step-day records, as docs/walking.md's "today and maybe yesterday" at its worst.
STEP_DAYS_PER_SYNC = 2
# The app shows GET /v1/leaderboards/steps (my rank + the top 10 of today's city board)
# after each sync (assumption).
LEADERBOARD_VIEWS_PER_SYNC = 1.0
# Day scores cluster in 0-9,999 steps: the bench's log-normal day (bench.ranks, median
# ~6,600) puts at most ~1.2% of a board's entries on one 100-step leaf; a raise moves an
# entry out of one leaf and into another. Assumed: the busiest leaf takes 3% of the writes.
BUSIEST_LEAF_SHARE = 0.03
PAYOUT_ELIGIBLE_SHARE = 0.10  # share of users at or above the 2,000-point threshold in a month
PAYOUT_RUN_S = 3600  # the monthly run pays everyone eligible within an hour
DAYS_PER_MONTH = 30
MINUTES_PER_MONTH = DAYS_PER_MONTH * 24 * 60

# DynamoDB limits (docs: "Partitions and data distribution", "Service quotas") --------------

PARTITION_WCU = 1_000  # per partition (and so per item / per partition-key value), per second
PARTITION_RCU = 3_000
TABLE_WRU_QUOTA = 40_000  # on-demand default per-table throughput quota (raisable)
FLAG_SHARE = 0.5  # flag anything above half a limit
PAYOUT_BUCKETS = 16  # chalicelib.adapters.dynamodb_ledger.PAYOUT_BUCKETS
# Lambda polls each stream shard about 4 times a second; a table gets about one shard per
# partition (1,000 WCU/s). The totals handler writes each shared row once per batch
# (chalicelib.adapters.dynamodb_totals), so a row's writes/s are min(entries/s, polls/s).
STREAM_POLLS_PER_SHARD_S = 4
ENTRIES_PER_ROW_UPDATE = 90  # chalicelib.adapters.dynamodb_totals.CHUNK: entries per transaction
LEDGER_ENTRY_WRU = 2  # the ledger put inside the posting's transaction (< 1 KB)
TRANSACTION_FACTOR = 2  # a transactional write costs twice (DynamoDB pricing)
BATCH_GET_KEYS = 100  # BatchGetItem: at most 100 keys a request

# The step boards (chalicelib.domain.boards; docs/walking.md) -------------------------------

BOARDS_PER_STEP_DAY = 4  # boards.boards_of: its day and week, city-wide and its district
TREE_LEVELS = 3  # boards.tree_path: top, mid, leaf; a rank read is 1 entry + 3 nodes
STEP_STREAM_BATCH = streams.STEP_BOARDS.batch_size  # records per handle_step_boards batch
# A rank read sums every copy of its 3 nodes in one BatchGetItem: at most this many copies.
MAX_NODE_COPIES = BATCH_GET_KEYS // TREE_LEVELS
# A full tree node: `boards.MID_BUCKET` counters `n0`..`n99` (docs/walking.md: "under 1 KB");
# counts of up to 6 digits (a million entries in one bucket).
NODE_COUNTERS = boards.TOP_BUCKET // boards.MID_BUCKET
NODE_COUNT_DIGITS = 6
# The districts row: a counter `d:<code>` per district (dynamodb_boards.DISTRICT_COUNTER);
# a district's week total has ~10 digits (10^4 walkers x 10^5 steps, at most).
DISTRICT_TOTAL_DIGITS = 10
# A district is a dong: the largest one's walkers do not grow with the number of cities.
LARGEST_DISTRICT_USERS = GIMHAE.users * LARGEST_DISTRICT_SHARE

# Shelters and robots (chalicelib.adapters.dynamodb_fleet) --------------------------------------

AIR_SLOTS_PER_HOUR = 60  # record_air: a slot `mMM` per minute in the hour's item
AIR_SLOTS_MEASURED = 2  # bench.fleet_costs: the warm-up reading and the steady one
DEVICE_REPORTS_BATCH = queues.DEVICE_REPORTS.batch_size  # SQS messages per invocation

# IoT Core prices: us-east-1, as published at aws.amazon.com/iot-core/pricing (USD) ---------
# (ap-northeast-2 lists higher unit prices; the ratios and the verdict are the same.)

IOT_PRICE_REGION = "us-east-1"
IOT_MESSAGE_TIERS = ((1_000_000_000, 1.00), (4_000_000_000, 0.80), (math.inf, 0.70))
IOT_MESSAGE_BYTES = 5 * 1024  # messages are metered in 5 KB increments
IOT_RULE_PER_MILLION = 0.15  # per rule triggered
IOT_ACTION_PER_MILLION = 0.15  # per action executed
IOT_CONNECT_PER_MILLION_MIN = 0.08

# Lambda ---------------------------------------------------------------------------------

LAMBDA_DEFAULT_CONCURRENCY = 1_000  # default per-account, per-region quota (raisable)
# In-region latencies assumed for the AWS durations (DynamoDB single-digit ms, a transaction
# about twice a write, an IoT data-plane publish over HTTPS); plus the handler's own CPU.
MS_PER_READ = 5.0
MS_PER_TRANSACTION = 12.0
MS_PER_WRITE = 7.0
MS_PER_IOT_PUBLISH = 15.0
MS_HANDLER_CPU = 5.0
# What each call costs in time, by operation (bench/dynamodb_costs.py names them
# `<service>:<operation>`); a publish is the IoT data plane's or SNS's.
MS_PER_CALL = {
    "dynamodb:GetItem": MS_PER_READ,
    "dynamodb:BatchGetItem": MS_PER_READ,
    "dynamodb:Query": MS_PER_READ,
    "dynamodb:TransactWriteItems": MS_PER_TRANSACTION,
    "dynamodb:UpdateItem": MS_PER_WRITE,
    "dynamodb:PutItem": MS_PER_WRITE,
    "dynamodb:DeleteItem": MS_PER_WRITE,
    "iot-data:Publish": MS_PER_IOT_PUBLISH,
    "iot-data:UpdateThingShadow": MS_PER_IOT_PUBLISH,
    "sns:Publish": MS_PER_IOT_PUBLISH,
}

# Per-event costs measured by bench_requests (overridden by a fresh measurement) ----------
# (the run of 2026-12-03; labels are matched by prefix)

STEP_SYNC = "step sync, today and yesterday raised"
BOARD_RECORD = "step-board stream (handle_step_boards), one record alone"
BOARD_BATCH = "step-board stream (handle_step_boards), per record, batch of 100 raised"
MY_RANK = "my rank ("
TOP_10 = "top 10 ("
TELEMETRY = "shelter telemetry (steady)"
ROBOT_STATUS = "robot status (steady)"
PAYOUT = "payout run, per citizen paid"

DEFAULT_COSTS: dict[str, dict[str, Any]] = {
    "deposit credited (phone)": {
        "rru": 3.0,
        "wru": 10.0,
        "dynamodb_requests": 2,
        "by_operation": {
            "dynamodb:BatchGetItem": 1,
            "dynamodb:TransactWriteItems": 1,
            "iot-data:Publish": 1,
        },
    },
    "ledger stream batch (city totals), per entry of 6": {
        "rru": 0.0,
        "wru": 3.33,
        "by_operation": {"dynamodb:TransactWriteItems": 1},
        "batch_records": 6,
        "item_bytes": {"city-totals": 96},
    },
    "quarantined (malformed JSON)": {"wru": 1.0, "item_bytes": {"quarantine": 284}},
    STEP_SYNC: {
        "dynamodb_requests": 3,
        "rru": 3.0,
        "wru": 2.0,
        "by_operation": {"dynamodb:BatchGetItem": 1, "dynamodb:UpdateItem": 2},
        "item_bytes": {"step-days": 119},
    },
    BOARD_RECORD: {
        "dynamodb_requests": 2,
        "rru": 2.0,
        "wru": 44.0,
        "wru_of_indexes": 4.0,
        "by_operation": {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 1},
        "item_bytes": {"board-counts": 58, "board-entries": 167, "city-totals": 53},
        "batch_records": 1,
    },
    BOARD_BATCH + " counts": {
        "dynamodb_requests": 0.14,
        "rru": 2.0,
        "wru": 27.18,
        "wru_of_indexes": 8.0,
        "by_operation": {"dynamodb:BatchGetItem": 4, "dynamodb:TransactWriteItems": 10},
        "item_bytes": {"board-counts": 380, "board-entries": 176, "city-totals": 55},
        "batch_records": 100,
    },
    MY_RANK + "board of 1,000)": {
        "dynamodb_requests": 2,
        "rru": 2.0,
        "by_operation": {"dynamodb:BatchGetItem": 1, "dynamodb:GetItem": 1},
    },
    TOP_10 + "board of 1,000)": {
        "dynamodb_requests": 1,
        "rru": 0.5,
        "by_operation": {"dynamodb:Query": 1},
    },
    TELEMETRY: {
        "dynamodb_requests": 2,
        "wru": 3.0,
        "wru_of_indexes": 1.0,
        "by_operation": {"dynamodb:UpdateItem": 2},
        "item_bytes": {"air-hours": 186, "device-states": 397},
    },
    ROBOT_STATUS: {
        "dynamodb_requests": 1,
        "wru": 2.0,
        "wru_of_indexes": 1.0,
        "by_operation": {"dynamodb:UpdateItem": 1},
        "item_bytes": {"device-states": 280},
    },
    PAYOUT + " (a run of 200)": {"dynamodb_requests": 1.57, "wru": 11.49, "wru_of_indexes": 1.0},
}
MAX_QUARANTINE_BYTES = 16 * 1024 + 2_000 + 300  # stored payload cap + details cap + the rest
DEPOSIT_MESSAGE_BYTES = 260  # the DESIGN §3 deposit example + its topic
ACK_MESSAGE_BYTES = 110  # measured: the ack's payload + topic


def _cost(measured: dict[str, Any], prefix: str) -> dict[str, Any]:
    for source in (measured, DEFAULT_COSTS):
        for label, value in source.items():
            if label.startswith(prefix) and isinstance(value, dict):
                return dict(value)
    raise KeyError(prefix)


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _pow2(n: float) -> int:
    """The smallest power of two at or above n (shard counts)."""
    return 1 << max(0, math.ceil(math.log2(max(1.0, n))))


@dataclass(frozen=True)
class HotKey:
    key: str
    scale: str
    wcu_s: float
    rcu_s: float
    note: str

    @property
    def share(self) -> float:
        return max(self.wcu_s / PARTITION_WCU, self.rcu_s / PARTITION_RCU)

    @property
    def verdict(self) -> str:
        if self.share > 1:
            return "**over the limit**"
        if self.share > FLAG_SHARE:
            return "**above half**"
        return "ok"


@dataclass(frozen=True)
class Rates:
    deposits_s: float
    step_syncs_s: float
    step_days_s: float
    """Step-day records (UpdateItems, and so stream records) per second."""
    board_views_s: float
    telemetry_s: float
    robot_status_s: float
    payout_s: float


def rates(scale: Scale) -> Rates:
    syncs = scale.users * STEP_SYNC_HOUR_SHARE / 3600 * STEP_SYNC_PEAK_FACTOR
    return Rates(
        deposits_s=scale.robots / DEPOSIT_INTERVAL_S,
        step_syncs_s=syncs,
        step_days_s=syncs * STEP_DAYS_PER_SYNC,
        board_views_s=syncs * LEADERBOARD_VIEWS_PER_SYNC,
        telemetry_s=scale.shelters / TELEMETRY_INTERVAL_S,
        robot_status_s=scale.robots / ROBOT_STATUS_INTERVAL_S,
        payout_s=scale.users * PAYOUT_ELIGIBLE_SHARE / PAYOUT_RUN_S,
    )


# What the built keys cost per record, from the measurement ---------------------------------


@dataclass(frozen=True)
class BoardCosts:
    """One step-day record's cost on the boards' keys (bench.ranks' stream batches)."""

    entry_bytes: int
    entry_wru: float
    """One entry's put, in the chunk's transaction."""
    index_wru: float
    """Per entry whose score moved: its `by-score` key deleted and put (measured)."""
    node_bytes: int
    node_wru: float
    """One ADD on a tree node (or the districts row, when small) in the transaction."""
    stats_wru: float
    """One ADD on a city-totals `steps#…` row in the transaction."""
    transactions_per_record: float
    """In a full batch of raised counts: each transaction moves each node it touches once."""
    item_rru: float
    """One item of a rank read: my entry or a tree node, eventually consistent, < 4 KB."""
    top_rru: float
    """The top-10 Query of the score index."""

    def districts_row_wru(self, districts: int) -> float:
        return TRANSACTION_FACTOR * _units(districts_row_bytes(districts), 1024)


def full_node_bytes() -> int:
    """A full tree node as dynamodb_boards writes it: its key, `expires`, 100 counters."""
    node = boards.mid_node(boards.board_id("week#2026-W48", boards.CITY), 0)
    item = {"node": {"S": node}, "expires": {"N": "1798761600"}}
    item.update({f"n{i}": {"N": "9" * NODE_COUNT_DIGITS} for i in range(NODE_COUNTERS)})
    return item_size(item)


def districts_row_bytes(districts: int) -> int:
    """A period's districts row with `districts` counters `d:<code>`, sized by DynamoDB's
    rules; codes as long as Gimhae's on average."""
    row = boards.district_totals_row("week#2026-W48")
    base = item_size({"node": {"S": row}, "expires": {"N": "1798761600"}})
    codes = list(city_districts())
    total = "9" * DISTRICT_TOTAL_DIGITS
    per = sum(len(f"d:{c}".encode()) + number_size(total) for c in codes) / len(codes)
    return base + round(districts * per)


def board_costs(measured: dict[str, Any]) -> BoardCosts:
    one = _cost(measured, BOARD_RECORD)
    batch = _cost(measured, BOARD_BATCH)
    rank = _cost(measured, MY_RANK)
    top = _cost(measured, TOP_10)
    sizes = [c.get("item_bytes", {}) for c in (one, batch)]
    entry_bytes = max(int(b.get("board-entries", 0)) for b in sizes)
    node_bytes = max([int(b.get("board-counts", 0)) for b in sizes] + [full_node_bytes()])
    stats_bytes = max(int(b.get("city-totals", 0)) for b in sizes)
    records = int(batch.get("batch_records", STEP_STREAM_BATCH))
    transactions = batch.get("by_operation", {}).get("dynamodb:TransactWriteItems", records)
    return BoardCosts(
        entry_bytes=entry_bytes,
        entry_wru=TRANSACTION_FACTOR * _units(entry_bytes, 1024),
        index_wru=float(batch.get("wru_of_indexes", 0.0)) / BOARDS_PER_STEP_DAY,
        node_bytes=node_bytes,
        node_wru=TRANSACTION_FACTOR * _units(node_bytes, 1024),
        stats_wru=TRANSACTION_FACTOR * _units(stats_bytes, 1024),
        transactions_per_record=transactions / records,
        item_rru=float(rank.get("rru", 2.0)) / (1 + TREE_LEVELS),
        top_rru=float(top.get("rru", 0.5)),
    )


@dataclass(frozen=True)
class FleetCosts:
    """One message's cost on the fleet's keys (bench.fleet_costs)."""

    state_bytes: int
    state_wru: float
    index_wru: float
    """The `by-group` entry a steady reading rewrites (the index projects the whole item)."""
    robot_index_wru: float
    air_full_bytes: int
    """A shelter's `air-hours` item after the hour's 60th reading."""
    air_mean_wru: float
    """A reading's `air-hours` write over the hour, billed on the item as it grows."""
    air_max_wru: float


def air_slot_bytes() -> int:
    """One minute's slot as dynamodb_fleet.record_air writes it (`mMM`: pm10, pm25, ts)."""
    slot = {
        "pm10": {"N": "42.5"},
        "pm25": {"N": "18.5"},
        "ts": {"S": "2026-11-25T12:34:00.000000+0000"},
    }
    return item_size({"m34": {"M": slot}})


def fleet_costs(measured: dict[str, Any]) -> FleetCosts:
    telemetry = _cost(measured, TELEMETRY)
    robot = _cost(measured, ROBOT_STATUS)
    sizes = telemetry.get("item_bytes", {})
    state = int(sizes.get("device-states", 397))
    slot = air_slot_bytes()
    empty = max(0, int(sizes.get("air-hours", 186)) - AIR_SLOTS_MEASURED * slot)
    billed = [_units(empty + k * slot, 1024) for k in range(1, AIR_SLOTS_PER_HOUR + 1)]
    return FleetCosts(
        state_bytes=state,
        state_wru=_units(state, 1024),
        index_wru=float(telemetry.get("wru_of_indexes", 1.0)),
        robot_index_wru=float(robot.get("wru_of_indexes", 1.0)),
        air_full_bytes=empty + AIR_SLOTS_PER_HOUR * slot,
        air_mean_wru=sum(billed) / len(billed),
        air_max_wru=max(billed),
    )


# Hot keys -------------------------------------------------------------------------------


def hot_keys(measured: dict[str, Any]) -> list[HotKey]:
    out: list[HotKey] = []
    for scale in SCALES:
        out += ledger_keys(measured, scale)
        out += board_keys(board_costs(measured), scale)
        out += fleet_keys(fleet_costs(measured), scale)
    return out


def ledger_keys(measured: dict[str, Any], scale: Scale) -> list[HotKey]:
    totals = _cost(measured, "ledger stream batch")
    quarantine = _cost(measured, "quarantined")
    payout = _cost(measured, PAYOUT)
    q_bytes = int(quarantine.get("item_bytes", {}).get("quarantine", 268))
    # Each totals row is one update (2 WRU, transactional, < 1 KB) per stream batch.
    row_wru = 2 * _units(int(totals.get("item_bytes", {}).get("city-totals", 88)), 1024)
    # A paid citizen leaves the sparse payout-eligible index (measured per citizen paid).
    leave_wru = float(payout.get("wru_of_indexes", 1.0))
    r = rates(scale)

    def row_writes(entries_s: float) -> float:
        shards = max(1, math.ceil(entries_s * LEDGER_ENTRY_WRU / PARTITION_WCU))
        batches = max(shards * STREAM_POLLS_PER_SHARD_S, entries_s / ENTRIES_PER_ROW_UPDATE)
        return min(entries_s, batches)

    deposits_w, payouts_w = row_writes(r.deposits_s), row_writes(r.payout_s)
    return [
        HotKey(
            "city-totals `all` (and `day#…`) row: every ledger entry",
            scale.name,
            deposits_w * row_wru,
            0,
            f"{r.deposits_s:,.0f} entries/s at the deposit peak, counted in stream batches: "
            f"{deposits_w:,.0f} row updates/s (<= {STREAM_POLLS_PER_SHARD_S} polls/s per "
            f"ledger shard) x {row_wru} WRU; concurrent shards conflict on this one item",
        ),
        HotKey(
            "city-totals `all` row during the payout run",
            scale.name,
            payouts_w * row_wru,
            0,
            f"{r.payout_s:,.0f} payouts/s ({PAYOUT_ELIGIBLE_SHARE:.0%} of users paid "
            f"within {PAYOUT_RUN_S // 60} min), each a ledger entry, counted in batches: "
            f"{payouts_w:,.0f} row updates/s",
        ),
        HotKey(
            f"payout-eligible index: one of {PAYOUT_BUCKETS} buckets, payout run",
            scale.name,
            r.payout_s / PAYOUT_BUCKETS * leave_wru,
            r.payout_s / PAYOUT_BUCKETS * 0.5 * 150 / 4096,
            f"each paid citizen leaves the sparse index ({leave_wru:g} index WRU measured per "
            "citizen paid); the run's bucket queries read ~150-byte keys-only entries, "
            "eventually consistent",
        ),
        HotKey(
            "quarantine `deposits` partition: a bad firmware push (every deposit refused)",
            scale.name,
            r.deposits_s * _units(q_bytes, 1024),
            0,
            f"{r.deposits_s:,.0f}/s x {_units(q_bytes, 1024)} WRU ({q_bytes} B measured); "
            f"with 16 KB payloads {_units(MAX_QUARANTINE_BYTES, 1024)} WRU each: "
            f"{r.deposits_s * _units(MAX_QUARANTINE_BYTES, 1024):,.0f} WCU/s",
        ),
        HotKey(
            "one citizen's row (balance)",
            scale.name,
            1 / DEPOSIT_INTERVAL_S * 2,
            1 / DEPOSIT_INTERVAL_S,
            "a citizen stands at one robot: one deposit per 20 s at most",
        ),
    ]


# The step boards' key names, shared by the rows and the verdict.
WEEK_ENTRIES = "`board-entries` partition of this week's city board (every step-day record)"
WEEK_INDEX = "`by-score` index partition of this week's city board"
WEEK_TOP = "count-tree top node of this week's city board"
TODAY_TOP = "top node and busiest mid node (`m0`, 0-9,999 steps) of today's city board"
WEEK_DISTRICTS = "the week's districts row (`week#…#districts`)"
STEPS_ROW = "city-totals `steps#all` row (step stats, in the boards' transactions)"
SHELTER_GROUP = "`by-group` index partition `<city>#shelter` (every telemetry message)"


def board_keys(c: BoardCosts, scale: Scale) -> list[HotKey]:
    """The boards as built: worst case, every record its own stream batch (one transaction
    each); the note gives the figure in full batches where batching helps."""
    r = rates(scale)
    rec, today, views = r.step_days_s, r.step_syncs_s, r.board_views_s
    batched = c.transactions_per_record
    row_bytes, row_wru = districts_row_bytes(scale.districts), c.districts_row_wru(scale.districts)
    district_rec = rec * min(1.0, LARGEST_DISTRICT_USERS / scale.users)

    def per_tx(wru: float, records_s: float) -> str:
        return (
            f"one ADD ({wru:g} WRU) per transaction: {records_s:,.0f}/s with every record its "
            f"own; in full batches of {STEP_STREAM_BATCH} ({batched:.2f} transactions a record, "
            f"measured) at most {_n(records_s * batched * wru)} WCU/s"
        )

    return [
        HotKey(
            WEEK_ENTRIES,
            scale.name,
            rec * c.entry_wru,
            0,
            f"{rec:,.0f} step-day records/s (a sync raises {STEP_DAYS_PER_SYNC} days) x "
            f"{c.entry_wru:g} WRU: the entry's put in a transaction ({c.entry_bytes} B "
            "measured); batching does not help (one entry per citizen)",
        ),
        HotKey(
            WEEK_INDEX,
            scale.name,
            rec * c.index_wru,
            0,
            f"a raised score moves the index key: {c.index_wru:g} WRU an entry (measured)",
        ),
        HotKey(
            "`board-entries` partition of today's city board, with my-rank reads",
            scale.name,
            today * c.entry_wru,
            views * c.item_rru,
            f"{today:,.0f} of today's records/s; {views:,.0f} leaderboard views/s each read my "
            f"entry ({c.item_rru:g} RRU)",
        ),
        HotKey(
            "today's city `by-score` index partition, with the top-10 reads",
            scale.name,
            today * c.index_wru,
            views * c.top_rru,
            f"each view's top 10 is one Query of the index ({c.top_rru:g} RRU measured)",
        ),
        HotKey(WEEK_TOP, scale.name, rec * c.node_wru, 0, per_tx(c.node_wru, rec)),
        HotKey(
            TODAY_TOP,
            scale.name,
            today * c.node_wru,
            views * c.item_rru,
            per_tx(c.node_wru, today) + f"; every rank read reads both ({c.item_rru:g} RRU "
            "each): copies of a node would not spread reads, a rank sums every copy",
        ),
        HotKey(
            "busiest leaf of today's city board",
            scale.name,
            today * BUSIEST_LEAF_SHARE * c.node_wru,
            views * BUSIEST_LEAF_SHARE * c.item_rru,
            f"{BUSIEST_LEAF_SHARE:.0%} of the writes and rank reads (assumed)",
        ),
        HotKey(
            WEEK_DISTRICTS,
            scale.name,
            rec * row_wru,
            0,
            f"{scale.districts:,} district counters: {row_bytes:,} B, so " + per_tx(row_wru, rec),
        ),
        HotKey(
            STEPS_ROW,
            scale.name,
            rec * c.stats_wru,
            0,
            per_tx(c.stats_wru, rec) + "; `steps#day#<today>` takes today's records",
        ),
        HotKey(
            "`board-entries` partition of the largest district's week board",
            scale.name,
            district_rec * c.entry_wru,
            0,
            f"{LARGEST_DISTRICT_USERS:,.0f} users ({LARGEST_DISTRICT_SHARE:.0%} of Gimhae's, "
            "its largest district); a district does not grow with the number of cities",
        ),
    ]


def fleet_keys(c: FleetCosts, scale: Scale) -> list[HotKey]:
    r = rates(scale)
    return [
        HotKey(
            "one shelter's `device-states` item (a reading a minute)",
            scale.name,
            c.state_wru / TELEMETRY_INTERVAL_S,
            0,
            f"one conditional UpdateItem per reading ({c.state_bytes} B measured)",
        ),
        HotKey(
            "one shelter's `air-hours` partition (an item per hour)",
            scale.name,
            c.air_max_wru / TELEMETRY_INTERVAL_S,
            0,
            f"the hour's item grows a slot a minute to {c.air_full_bytes:,} B: "
            f"{c.air_mean_wru:.1f} WRU a write over the hour, {c.air_max_wru:g} at its end",
        ),
        HotKey(
            SHELTER_GROUP,
            scale.name,
            r.telemetry_s * c.index_wru,
            0,
            f"{scale.shelters:,} shelters in one group x {c.index_wru:g} WRU: the index projects "
            "the whole state item, so every reading rewrites its entry (measured)",
        ),
        HotKey(
            "`by-group` index partition `<city>#robot` (every robot status)",
            scale.name,
            r.robot_status_s * c.robot_index_wru,
            0,
            f"{scale.robots:,} robots in one group x {c.robot_index_wru:g} WRU (measured)",
        ),
    ]


def table_rates(measured: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    """(table, scale, WRU/s, share of the per-table quota) at each event's peak."""
    deposit = _cost(measured, "deposit credited (phone)")
    totals = _cost(measured, "ledger stream batch")
    sync = _cost(measured, STEP_SYNC)
    batch = _cost(measured, BOARD_BATCH)
    c = board_costs(measured)
    out = []
    for scale in SCALES:
        r = rates(scale)
        guards = r.deposits_s * 2 * 2  # the deposit's guard and the totals' guard, 2 WRU each
        out.append(("processed-events (both guards)", scale.name, guards, guards / TABLE_WRU_QUOTA))
        all_wru = r.deposits_s * (float(deposit["wru"]) + float(totals["wru"]))
        out.append(("all tables, deposits + totals", scale.name, all_wru, math.nan))
        entries = r.step_days_s * BOARDS_PER_STEP_DAY * c.entry_wru
        out.append(
            (
                "board-entries at the step peak (its `by-score` index as much)",
                scale.name,
                entries,
                entries / TABLE_WRU_QUOTA,
            )
        )
        steps = r.step_syncs_s * float(sync["wru"]) + r.step_days_s * float(batch["wru"])
        out.append(("all tables, step syncs + boards (full batches)", scale.name, steps, math.nan))
    return out


def iot_monthly(scale: Scale) -> list[tuple[str, float, bool]]:
    """(traffic, messages a month, could use Basic Ingest)."""
    per_deposit = _units(DEPOSIT_MESSAGE_BYTES, IOT_MESSAGE_BYTES)
    per_ack = _units(ACK_MESSAGE_BYTES, IOT_MESSAGE_BYTES)
    deposits = scale.robots * DEPOSITS_PER_ROBOT_DAY * DAYS_PER_MONTH
    return [
        ("robot deposits (inbound, to the rule)", deposits * per_deposit, True),
        ("deposit acks (Lambda publish in + delivery to the robot)", deposits * per_ack * 2, False),
        (
            "robot status, once a minute",
            scale.robots * MINUTES_PER_MONTH * 60 / ROBOT_STATUS_INTERVAL_S,
            True,
        ),
        (
            "shelter telemetry, once a minute",
            scale.shelters * MINUTES_PER_MONTH * 60 / TELEMETRY_INTERVAL_S,
            True,
        ),
        (
            "shelter status, ~hourly",
            scale.shelters * SHELTER_STATUS_PER_HOUR * 24 * DAYS_PER_MONTH,
            True,
        ),
    ]


def message_cost(messages: float) -> float:
    cost, left = 0.0, messages
    for size, price in IOT_MESSAGE_TIERS:
        part = min(left, size)
        cost += part / 1e6 * price
        left -= part
        if left <= 0:
            break
    return cost


@dataclass(frozen=True)
class LambdaLoad:
    function: str
    duration_ms: float
    source: str
    rate: dict[str, float]


def duration(by_operation: dict[str, float], events: float = 1) -> tuple[float, str]:
    """An invocation's estimated AWS duration from the calls it makes (MS_PER_CALL) and the
    handler's CPU, per event when the calls serve a batch of `events`; and how."""
    ms, parts = MS_HANDLER_CPU, []
    for op, n in sorted(by_operation.items()):
        per = MS_PER_CALL.get(op)
        if per is not None and n:
            ms += n * per
            parts.append(f"{n:g} {op.split(':', 1)[1]} x {per:g}")
    how = " + ".join([*parts, f"CPU {MS_HANDLER_CPU:g} ms"])
    if events > 1:
        how = f"({how}) / {events:g} a batch"
    return ms / events, how


def _merged(*costs: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for cost in costs:
        for op, n in cost.get("by_operation", {}).items():
            out[op] = out.get(op, 0) + n
    return out


def lambda_loads(measured: dict[str, Any], local_ack_ms: float | None) -> list[LambdaLoad]:
    def load(name: str, calls: tuple[float, str], rate: str, note: str = "") -> LambdaLoad:
        ms, how = calls
        return LambdaLoad(name, ms, how + note, {s.name: getattr(rates(s), rate) for s in SCALES})

    totals = _cost(measured, "ledger stream batch")
    batch = _cost(measured, BOARD_BATCH)
    local = f"; local publish→ack p50 {local_ack_ms} ms on moto" if local_ack_ms else ""
    per_shard = "; at most one batch per stream shard at a time"
    reports = f"; SQS batches of {DEVICE_REPORTS_BATCH}, messages one after another"
    return [
        load(
            "handle_deposits (SQS)",
            duration(_cost(measured, "deposit credited (phone)")["by_operation"]),
            "deposits_s",
            local,
        ),
        load(
            "handle_ledger_changes (stream)",
            duration(totals["by_operation"], totals.get("batch_records", 1)),
            "deposits_s",
            per_shard,
        ),
        load(
            "PUT /v1/me/steps (API)",
            duration(_cost(measured, STEP_SYNC)["by_operation"]),
            "step_syncs_s",
            f"; a sync raising {STEP_DAYS_PER_SYNC} days (measured)",
        ),
        load(
            "GET /v1/leaderboards/steps (API: my rank + top 10)",
            duration(_merged(_cost(measured, MY_RANK), _cost(measured, TOP_10))),
            "board_views_s",
        ),
        load(
            "handle_step_boards (stream)",
            duration(batch["by_operation"], batch.get("batch_records", STEP_STREAM_BATCH)),
            "step_days_s",
            per_shard,
        ),
        load(
            "handle_device_reports (SQS): shelter telemetry",
            duration(_cost(measured, TELEMETRY)["by_operation"]),
            "telemetry_s",
            reports,
        ),
        load(
            "handle_device_reports (SQS): robot status",
            duration(_cost(measured, ROBOT_STATUS)["by_operation"]),
            "robot_status_s",
            reports,
        ),
    ]


def _n(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:,.1f}"
    return f"{x:.3f}".rstrip("0").rstrip(".") or "0"


def render(measured: dict[str, Any] | None = None, local_ack_ms: float | None = None) -> str:
    measured = measured or {}
    lines: list[str] = []
    add = lines.append
    add(
        "Assumptions (peaks): "
        + "; ".join(
            (
                f"every robot deposits once per {DEPOSIT_INTERVAL_S} s",
                f"{DEPOSITS_PER_ROBOT_DAY} deposits per robot per day on average",
                f"every user syncs steps once in one evening hour, busiest minute "
                f"{STEP_SYNC_PEAK_FACTOR:g}x the hour's average, each sync raising "
                f"{STEP_DAYS_PER_SYNC} days (today and yesterday) and followed by "
                f"{LEADERBOARD_VIEWS_PER_SYNC:g} leaderboard view (my rank + top 10)",
                "shelter telemetry and robot status once a minute",
                f"{PAYOUT_ELIGIBLE_SHARE:.0%} of users paid out in a "
                f"{PAYOUT_RUN_S // 60}-minute run",
                "at 50 million users the fleet grows with the users (250x Gimhae), on one "
                f"stack; per city, the largest ({LARGEST_CITY_RESIDENTS / 1e6:g} million "
                f"residents) has {LARGEST_CITY.users:,} users",
            )
        )
        + "."
    )
    add("")
    add(
        "| scale | users | robots | shelters | districts | deposits/s | step syncs/s "
        "| step-day records/s | telemetry/s | robot status/s | payouts/s |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in SCALES:
        r = rates(s)
        add(
            f"| {s.name} | {s.users:,} | {s.robots:,} | {s.shelters:,} | {s.districts:,} | "
            f"{_n(r.deposits_s)} | {_n(r.step_syncs_s)} | {_n(r.step_days_s)} | "
            f"{_n(r.telemetry_s)} | {_n(r.robot_status_s)} | {_n(r.payout_s)} |"
        )
    add("")
    add(
        f"### Hot keys against DynamoDB's per-partition limits "
        f"({PARTITION_WCU:,} WCU/s, {PARTITION_RCU:,} RCU/s; flagged above half)"
    )
    add("")
    add(
        "Every item below is written as built; board rows take the worst case (every "
        "step-day record its own stream batch, so one transaction each) and say what full "
        "batches leave."
    )
    add("")
    add("| key | scale | WCU/s | RCU/s | share of limit | verdict | how |")
    add("|---|---|---|---|---|---|---|")
    keys = hot_keys(measured)
    for k in keys:
        add(
            f"| {k.key} | {k.scale} | {_n(k.wcu_s)} | {_n(k.rcu_s)} | {k.share:.1%} | "
            f"{k.verdict} | {k.note} |"
        )
    add("")
    add(
        f"Tables at their peaks (on-demand per-table default quota {TABLE_WRU_QUOTA:,} WRU/s, "
        "each index its own):"
    )
    add("")
    add("| table | scale | WRU/s | share of table quota | verdict |")
    add("|---|---|---|---|---|")
    tables = table_rates(measured)
    for table, scale, wru, share in tables:
        shown = "-" if math.isnan(share) else f"{share:.1%}"
        flag = (
            "**over the quota**"
            if share > 1
            else "**above half**"
            if share > FLAG_SHARE
            else "-"
            if math.isnan(share)
            else "ok"
        )
        add(f"| {table} | {scale} | {_n(wru)} | {shown} | {flag} |")
    add("")
    add(
        f"### IoT Core messages a month ({IOT_PRICE_REGION} prices: messaging "
        + ", ".join(
            f"${p:.2f}/million" + (f" up to {t / 1e9:g} B" if t != math.inf else " beyond")
            for t, p in IOT_MESSAGE_TIERS
        )
        + f"; 5 KB increments; rules ${IOT_RULE_PER_MILLION}/million triggered + "
        f"${IOT_ACTION_PER_MILLION}/million actions; connectivity "
        f"${IOT_CONNECT_PER_MILLION_MIN}/million minutes)"
    )
    add("")
    add("| scale | traffic | messages/month | Basic Ingest possible |")
    add("|---|---|---|---|")
    summary = []
    for s in SCALES:
        rows = iot_monthly(s)
        for name, count, basic in rows:
            add(f"| {s.name} | {name} | {count / 1e6:,.1f} M | {'yes' if basic else 'no'} |")
        total = sum(c for _, c, _ in rows)
        ingest = sum(c for _, c, b in rows if b)
        rules = ingest  # every device message triggers one rule with one action
        connect = (s.robots + s.shelters) * MINUTES_PER_MONTH
        summary.append((s, total, ingest, rules, connect))
    add("")
    add("| scale | messaging | with Basic Ingest | saved | rules + actions | connectivity |")
    add("|---|---|---|---|---|---|")
    for s, total, ingest, rules, connect in summary:
        cost_now, cost_basic = message_cost(total), message_cost(total - ingest)
        rule_cost = rules / 1e6 * (IOT_RULE_PER_MILLION + IOT_ACTION_PER_MILLION)
        saved = cost_now - cost_basic
        add(
            f"| {s.name} | ${cost_now:,.0f} ({total / 1e6:,.0f} M msgs) | ${cost_basic:,.0f} | "
            f"${saved:,.0f} ({saved / cost_now:.0%}) | ${rule_cost:,.0f} | "
            f"${connect / 1e6 * IOT_CONNECT_PER_MILLION_MIN:,.0f} |"
        )
    add("")
    add(
        "Basic Ingest: devices publish to `$aws/rules/<rule>/<topic>`; the rule's inbound "
        "message carries no messaging charge (rules and actions still do), the rule sees the "
        "topic without the prefix (so `topic(3)` is unchanged), nothing can subscribe to it. "
        "It needs the device firmware's publish topic and the IoT policy's publish resource "
        "to change; the acks (cloud to robot) cannot use it."
    )
    add("")
    add(
        f"### Lambda concurrency (arrival rate x duration; default quota "
        f"{LAMBDA_DEFAULT_CONCURRENCY:,} per account and region)"
    )
    add("")
    add(
        "| function | duration (AWS, estimated) | "
        + " | ".join(f"{s.name}: rate/s, concurrency" for s in SCALES)
        + " | how |"
    )
    add("|---|---|" + "---|" * len(SCALES) + "---|")
    loads = lambda_loads(measured, local_ack_ms)
    for load in loads:
        cells = []
        for s in SCALES:
            c = load.rate[s.name] * load.duration_ms / 1000
            flag = " **above half**" if c > LAMBDA_DEFAULT_CONCURRENCY * FLAG_SHARE else ""
            cells.append(f"{_n(load.rate[s.name])}/s, {_n(c)}{flag}")
        shown = f"{load.duration_ms:.0f}" if load.duration_ms >= 10 else f"{load.duration_ms:.1f}"
        add(f"| {load.function} | {shown} ms | " + " | ".join(cells) + f" | {load.source} |")
    add("")
    add("### Verdict")
    add("")
    add(verdict(keys, loads, tables, measured))
    return "\n".join(lines) + "\n"


def _concurrency(loads: list[LambdaLoad], scale: Scale) -> float:
    return sum(ld.rate[scale.name] * ld.duration_ms / 1000 for ld in loads)


def verdict(
    keys: list[HotKey],
    loads: list[LambdaLoad],
    tables: list[tuple[str, str, float, float]],
    measured: dict[str, Any],
) -> str:
    """The verdict, computed from the rows above (and the same per-record costs)."""
    half_wcu = PARTITION_WCU * FLAG_SHARE

    def key(name: str, scale: Scale) -> HotKey:
        return next(k for k in keys if k.key == name and k.scale == scale.name)

    def table(prefix: str, scale: Scale) -> tuple[str, str, float, float]:
        return next(t for t in tables if t[0].startswith(prefix) and t[1] == scale.name)

    gimhae = [k for k in keys if k.scale == GIMHAE.name]
    flagged_g = [k for k in gimhae if k.share > FLAG_SHARE]
    country = [k for k in keys if k.scale == COUNTRY.name and k.share > FLAG_SHARE]
    top_share = max(k.share for k in gimhae)
    busiest = [k for k in gimhae if k.share >= top_share - 0.005]
    out = [
        ("**At Gimhae scale the key design holds**" if not flagged_g else "**At Gimhae scale "
         "some keys are above half a partition**")
        + f": the busiest keys, each at {top_share:.0%} of a partition's limit "
        f"({_n(max(k.wcu_s for k in busiest))} WCU/s), are: "
        + "; ".join(k.key for k in busiest)
        + ". Every per-citizen, per-device and payout-bucket key stays far below its "
        "partition's limit, and Lambda needs "
        f"~{_n(_concurrency(loads, GIMHAE))} concurrent executions when every peak meets."
    ]  # fmt: skip
    if flagged_g:
        out.append(
            "Flagged already at Gimhae: "
            + "; ".join(f"{k.key} ({k.share:.0%})" for k in flagged_g)
            + "."
        )
    c, fleet = board_costs(measured), fleet_costs(measured)
    watch = [k for k in gimhae if 0.2 <= k.share <= FLAG_SHARE and k not in busiest]
    top_g = key(WEEK_TOP, GIMHAE)
    out.append(
        "Watch at Gimhae: "
        + "".join(f"{k.key} ({k.share:.0%}); " for k in watch)
        + "the step boards' shared items (the week's top node, districts row and "
        f"`steps#all`) reach {_n(top_g.wcu_s)} WCU/s only if every step-day record came alone, "
        f"{_n(top_g.wcu_s * c.transactions_per_record)} in full batches; "
        "the quarantine's single `deposits` partition reaches ~half its limit if a bad "
        "firmware push refuses every deposit with 16 KB payloads; the `all` row is one item "
        "that every stream shard's transaction touches, so concurrent shards meet "
        "TransactionConflict retries long before the WCU limit; the payout run must stay "
        "paced (it posts one ledger entry per citizen, counted on the `all` row in batches); "
        f"a shelter's `air-hours` item grows to {fleet.air_full_bytes:,} B by the hour's "
        f"60th reading, so its writes average {fleet.air_mean_wru:.1f} WRU, not the 1 WRU "
        "measured on a fresh hour."
    )

    # (4) the step boards at 50 million users, on one stack and per city.
    entries = key(WEEK_ENTRIES, COUNTRY).wcu_s
    city = rates(LARGEST_CITY)
    city_entries = city.step_days_s * c.entry_wru
    shards, city_shards = _pow2(entries / half_wcu), _pow2(city_entries / half_wcu)
    worst = key(WEEK_TOP, COUNTRY).wcu_s
    batched = worst * c.transactions_per_record
    city_batched = city.step_days_s * c.node_wru * c.transactions_per_record
    copies, city_copies = math.ceil(batched / half_wcu), math.ceil(city_batched / half_wcu)
    too_many = (
        f", more than the {MAX_NODE_COPIES} a rank read's BatchGetItem can sum"
        if copies > MAX_NODE_COPIES
        else ""
    )
    reads = key(TODAY_TOP, COUNTRY).rcu_s
    row_bytes = districts_row_bytes(COUNTRY.districts)
    row_wru = c.districts_row_wru(COUNTRY.districts)
    row_wcu = key(WEEK_DISTRICTS, COUNTRY).wcu_s
    city_row_bytes = districts_row_bytes(LARGEST_CITY.districts)
    city_row_wcu = (
        city.step_days_s * c.transactions_per_record * c.districts_row_wru(LARGEST_CITY.districts)
    )
    city_reads = city.board_views_s * c.item_rru
    per_district = (districts_row_bytes(100) - districts_row_bytes(0)) / 100
    per_kb = int((1024 - districts_row_bytes(0)) / per_district)
    board_table = table("board-entries", COUNTRY)
    boards_text = (
        "(4) the step boards are one partition per board: on one stack the week's city "
        f"board takes {_n(entries)} WCU/s on its entries' partition and as much on its "
        f"`by-score` index partition ({entries / PARTITION_WCU:,.0f}x a partition), and even "
        f"per city the largest ({LARGEST_CITY.users:,} users) puts {_n(city_entries)} WCU/s "
        f"there: shard a board's entries by `board#s<hash(citizen) % N>` (N = {city_shards} "
        f"per city, {shards} for one national board; the top 10 then merges N small "
        "queries, my rank does not change); the count-tree top node and `steps#all` "
        f"take {_n(worst)} WCU/s with every record alone, {_n(batched)} in full batches "
        f"({c.transactions_per_record:.2f} transactions a record, measured): keep "
        f"{city_copies} copies of each top node per city ({copies} on one stack{too_many}), "
        "a writer picking one, and shard `steps#all` like the totals rows; rank reads put "
        f"{_n(reads)} RCU/s on today's top node ({reads / PARTITION_RCU:.0%} of a partition; "
        f"{city_reads / PARTITION_RCU:.0%} per city) and copies cannot spread them (a rank "
        "sums every copy): on one stack, serve the top and `m0` nodes from a cache of a "
        "second or two; the districts row holds every district's counter: "
        f"{row_bytes / 1024:,.0f} KB with {COUNTRY.districts:,} districts ({row_wru:g} WRU an "
        f"update, {_n(row_wcu)} WCU/s with every record alone), and even per city "
        f"({LARGEST_CITY.districts} districts) {city_row_bytes / 1024:,.1f} KB and "
        f"{_n(city_row_wcu)} WCU/s in full batches: split it into rows of at most {per_kb} "
        "districts (under 1 KB, read together in one BatchGetItem); the board-entries table "
        "alone takes "
        f"{board_table[3]:.0%} of its default quota, so raise it or split stacks by city"
    )
    # (9) the fleet's groups.
    group = key(SHELTER_GROUP, COUNTRY)
    per_group = int(half_wcu * TELEMETRY_INTERVAL_S / fleet.index_wru)
    list_bytes = COUNTRY.shelters * fleet.state_bytes
    fleet_text = (
        "(9) the fleet's `by-group` index is one partition per city and device type: "
        f"{COUNTRY.shelters:,} shelters in one group would put {_n(group.wcu_s)} WCU/s on it "
        "(the index projects the whole state item, so every reading rewrites its entry) and "
        f"make `GET /v1/shelters` one Query of {list_bytes / 1e6:,.0f} MB "
        f"({_n(_units(list_bytes, 4096) / 2)} RRU); as keyed, a group stays under half a "
        f"partition up to {per_group:,} shelters at a reading a minute (the largest city has "
        f"~{LARGEST_CITY.shelters:,}), and a big city's lists go by district (its "
        "`<district>#` prefix) or by page"
    )
    guards = table("processed-events", COUNTRY)[3]
    api = sum(
        ld.rate[COUNTRY.name] * ld.duration_ms / 1000
        for ld in loads
        if "steps" in ld.function or "step_boards" in ld.function
    )
    out.append(
        "**At 50 million users these must change**: "
        + "; ".join(f"{k.key} ({k.share:.0%} of a partition)" for k in country)
        + ". Concretely: (1) write-shard the city-totals rows (`all#00`..`all#NN` by a hash "
        "of the entry, summed on read with one BatchGetItem) and keep totals per city, so "
        "that concurrent stream shards stop conflicting on one item (each stream batch is "
        "already one counter update per row, with the per-entry guards in the same "
        "transaction); (2) keep the totals' guards out of the deposits' guard table; "
        "(3) shard the quarantine's partition key (`deposits#<day>#<n>`); "
        + boards_text
        + f"; (5) pace the payout run: its {PAYOUT_BUCKETS} index buckets hold up to "
        f"{int(PAYOUT_BUCKETS * half_wcu):,} payouts/s; "
        "(6) the processed-events table takes both guards of every deposit: "
        f"{guards:.0%} of the default per-table quota, so raise it or split tables by "
        "city; "
        f"(7) Lambda needs ~{_concurrency(loads, COUNTRY):,.0f} concurrent executions when "
        f"every peak meets (the walking functions alone ~{api:,.0f}): a quota increase, or a "
        "stack per region/city group; (8) Basic Ingest for every device-to-rule topic, which "
        "removes most of the IoT messaging bill; " + fleet_text + "."
    )
    return "\n\n".join(out)
