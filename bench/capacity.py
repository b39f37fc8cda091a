"""The capacity model: what the real key design asks of DynamoDB, IoT Core and Lambda at
Gimhae's scale and at 50 million users, as code. `render()` returns markdown for
bench/RESULTS.md; every constant says where it comes from (a documented limit, a published
price, DESIGN.md, or an assumption stated as one).

Per-event capacity units come from the measurement (`bench_requests`, bench/dynamodb_costs.py)
when one is passed, else from DEFAULT_COSTS (that measurement's values when this was written).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Scale (DESIGN §1) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    robots: int
    shelters: int


GIMHAE = Scale("Gimhae", 200_000, 500, 500)
# 50 million users "by adding cities": devices grow with users (250x Gimhae's fleet).
COUNTRY = Scale("50 million users", 50_000_000, 125_000, 125_000)
SCALES = (GIMHAE, COUNTRY)

# Peaks and volumes (assumptions, stated) ---------------------------------------------------

DEPOSIT_INTERVAL_S = 20  # peak: every robot busy, one deposit per 20 s
DEPOSITS_PER_ROBOT_DAY = 200  # monthly volume: ~one deposit per 3.6 min over 12 opening hours
STEP_SYNC_HOUR_SHARE = 1.0  # every user syncs once in the evening hour...
STEP_SYNC_PEAK_FACTOR = 2.0  # ...with the busiest minute at twice the hour's average
LARGEST_DISTRICT_SHARE = 0.15  # Gimhae's largest district (a Jangyu dong) holds ~15% of users
TELEMETRY_INTERVAL_S = 60  # shelters: telemetry once a minute (DESIGN §3 presence)
ROBOT_STATUS_INTERVAL_S = 60  # robots: status once a minute (DESIGN §3 presence)
SHELTER_STATUS_PER_HOUR = 1  # shelters: status on change; assume one an hour
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
STEP_SYNC_MS = 40.0  # not built: ~one read + one transaction per day synced, assumed
TELEMETRY_MS = 20.0  # not built: one write per reading, assumed

# Per-event costs measured by bench_requests (overridden by a fresh measurement) ----------

DEFAULT_COSTS: dict[str, dict[str, Any]] = {
    "deposit credited (phone)": {
        "rru": 4.0,
        "wru": 8.0,
        "dynamodb_requests": 3,
        "by_operation": {"dynamodb:BatchGetItem": 2, "dynamodb:TransactWriteItems": 1},
    },
    "ledger stream batch (city totals), per entry of 5": {"rru": 0.0, "wru": 6.0},
    "quarantined (malformed JSON)": {"wru": 1.0, "item_bytes": {"quarantine": 268}},
}
MAX_QUARANTINE_BYTES = 16 * 1024 + 2_000 + 300  # stored payload cap + details cap + the rest
DEPOSIT_MESSAGE_BYTES = 260  # the DESIGN §3 deposit example + its topic
ACK_MESSAGE_BYTES = 110  # measured: the ack's payload + topic


def _cost(measured: dict[str, Any], prefix: str) -> dict[str, Any]:
    for source in (measured, DEFAULT_COSTS):
        for label, value in source.items():
            if label.startswith(prefix) and not value.get("not_built"):
                return dict(value)
    raise KeyError(prefix)


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


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
    telemetry_s: float
    payout_s: float


def rates(scale: Scale) -> Rates:
    return Rates(
        deposits_s=scale.robots / DEPOSIT_INTERVAL_S,
        step_syncs_s=scale.users * STEP_SYNC_HOUR_SHARE / 3600 * STEP_SYNC_PEAK_FACTOR,
        telemetry_s=scale.shelters / TELEMETRY_INTERVAL_S,
        payout_s=scale.users * PAYOUT_ELIGIBLE_SHARE / PAYOUT_RUN_S,
    )


def hot_keys(measured: dict[str, Any]) -> list[HotKey]:
    totals = _cost(measured, "ledger stream batch")
    quarantine = _cost(measured, "quarantined")
    q_bytes = int(quarantine.get("item_bytes", {}).get("quarantine", 268))
    # Each totals row is one update (2 WRU, transactional, < 1 KB) per stream batch.
    row_wru = 2 * _units(int(totals.get("item_bytes", {}).get("city-totals", 88)), 1024)
    out: list[HotKey] = []
    for scale in SCALES:
        r = rates(scale)

        def row_writes(entries_s: float) -> float:
            shards = max(1, math.ceil(entries_s * LEDGER_ENTRY_WRU / PARTITION_WCU))
            batches = max(shards * STREAM_POLLS_PER_SHARD_S, entries_s / ENTRIES_PER_ROW_UPDATE)
            return min(entries_s, batches)

        deposits_w, payouts_w = row_writes(r.deposits_s), row_writes(r.payout_s)
        out += [
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
                r.payout_s / PAYOUT_BUCKETS * 1,
                r.payout_s / PAYOUT_BUCKETS * 0.5 * 150 / 4096,
                "each paid citizen leaves the sparse index (1 index WRU); the run's bucket "
                "queries read ~150-byte keys-only entries, eventually consistent",
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
            HotKey(
                "step sync: a district's day-total row (not built; if kept as one row)",
                scale.name,
                r.step_syncs_s * (LARGEST_DISTRICT_SHARE if scale is GIMHAE else 1 / 3_500) * 2,
                0,
                "largest Gimhae district's share; country-wide ~3,500 districts",
            ),
            HotKey(
                "step sync: a city-wide (or country-wide) total row (not built; if one row)",
                scale.name,
                r.step_syncs_s * 2,
                0,
                f"{r.step_syncs_s:,.0f} syncs/s at the evening peak x 2 WRU (transactional)",
            ),
            HotKey(
                "shelter telemetry: one shelter's partition (not built)",
                scale.name,
                1 / TELEMETRY_INTERVAL_S,
                0,
                "a reading a minute per shelter, keyed by shelter",
            ),
        ]
    return out


def table_rates(measured: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    """(table, scale, WRU/s, share of the per-table quota) at the deposit peak."""
    deposit = _cost(measured, "deposit credited (phone)")
    totals = _cost(measured, "ledger stream batch")
    out = []
    for scale in SCALES:
        r = rates(scale)
        guards = r.deposits_s * 2 * 2  # the deposit's guard and the totals' guard, 2 WRU each
        out.append(("processed-events (both guards)", scale.name, guards, guards / TABLE_WRU_QUOTA))
        all_wru = r.deposits_s * (float(deposit["wru"]) + float(totals["wru"]))
        out.append(("all tables, deposits + totals", scale.name, all_wru, math.nan))
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


def lambda_loads(measured: dict[str, Any], local_ack_ms: float | None) -> list[LambdaLoad]:
    deposit = _cost(measured, "deposit credited (phone)")
    ops = deposit.get("by_operation", {})
    reads = sum(n for k, n in ops.items() if k in ("dynamodb:BatchGetItem", "dynamodb:GetItem"))
    txns = ops.get("dynamodb:TransactWriteItems", 1)
    deposit_ms = (
        reads * MS_PER_READ + txns * MS_PER_TRANSACTION + MS_PER_IOT_PUBLISH + MS_HANDLER_CPU
    )
    local = f"; local publish→ack p50 {local_ack_ms} ms on moto" if local_ack_ms else ""
    return [
        LambdaLoad(
            "handle_deposits (SQS)",
            deposit_ms,
            f"{reads} reads x {MS_PER_READ} + {txns} transaction x {MS_PER_TRANSACTION} + "
            f"publish {MS_PER_IOT_PUBLISH} + CPU {MS_HANDLER_CPU} ms{local}",
            {s.name: rates(s).deposits_s for s in SCALES},
        ),
        LambdaLoad(
            "handle_ledger_changes (stream)",
            MS_PER_TRANSACTION + 2.0,
            "one transaction per record; concurrency is also capped at one per shard",
            {s.name: rates(s).deposits_s for s in SCALES},
        ),
        LambdaLoad(
            "PUT /v1/me/steps (API; not built)",
            STEP_SYNC_MS,
            "assumed",
            {s.name: rates(s).step_syncs_s for s in SCALES},
        ),
        LambdaLoad(
            "shelter telemetry (not built)",
            TELEMETRY_MS,
            "assumed",
            {s.name: rates(s).telemetry_s for s in SCALES},
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
                f"{STEP_SYNC_PEAK_FACTOR:g}x the hour's average",
                "shelter telemetry and robot status once a minute",
                f"{PAYOUT_ELIGIBLE_SHARE:.0%} of users paid out in a "
                f"{PAYOUT_RUN_S // 60}-minute run",
                "at 50 million users the fleet grows with the users (250x Gimhae)",
            )
        )
        + "."
    )
    add("")
    add(
        "| scale | users | robots | shelters | deposits/s | step syncs/s | telemetry/s "
        "| payouts/s |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for s in SCALES:
        r = rates(s)
        add(
            f"| {s.name} | {s.users:,} | {s.robots:,} | {s.shelters:,} | {_n(r.deposits_s)} | "
            f"{_n(r.step_syncs_s)} | {_n(r.telemetry_s)} | {_n(r.payout_s)} |"
        )
    add("")
    add(
        f"### Hot keys against DynamoDB's per-partition limits "
        f"({PARTITION_WCU:,} WCU/s, {PARTITION_RCU:,} RCU/s; flagged above half)"
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
        f"Tables at the deposit peak (on-demand per-table default quota {TABLE_WRU_QUOTA:,} WRU/s):"
    )
    add("")
    add("| table | scale | WRU/s | share of table quota | verdict |")
    add("|---|---|---|---|---|")
    for table, scale, wru, share in table_rates(measured):
        shown = "-" if math.isnan(share) else f"{share:.1%}"
        flag = "**above half**" if share > FLAG_SHARE else "ok"
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
        add(
            f"| {load.function} | {load.duration_ms:.0f} ms | "
            + " | ".join(cells)
            + f" | {load.source} |"
        )
    add("")
    add("### Verdict")
    add("")
    guards = [t for t in table_rates(measured) if t[1] == COUNTRY.name and "guards" in t[0]]
    add(verdict(keys, loads, summary, guards[0][3]))
    return "\n".join(lines) + "\n"


def verdict(keys: list[HotKey], loads: list[LambdaLoad], iot: list[Any], table_share: float) -> str:
    flagged = [k for k in keys if k.share > FLAG_SHARE]
    gimhae = [k for k in flagged if k.scale == GIMHAE.name]
    country = [k for k in flagged if k.scale == COUNTRY.name]
    total_country = sum(ld.rate[COUNTRY.name] * ld.duration_ms / 1000 for ld in loads)
    out = [
        "**At Gimhae scale the key design holds**"
        if not any("`all` (and" in k.key for k in gimhae)
        else "**At Gimhae scale the deposit path holds**"
    ]
    out[0] += (
        ": the deposit peak puts "
        + _n(next(k.wcu_s for k in keys if k.scale == GIMHAE.name and "`all` (and" in k.key))
        + " WCU/s on the busiest item (the city-totals `all` row), every per-citizen, "
        "per-device and payout-bucket key stays far below its partition's limit, and Lambda "
        "needs a handful of concurrent executions."
    )
    watch = [k for k in keys if k.scale == GIMHAE.name and 0.2 <= k.share <= FLAG_SHARE]
    if gimhae:
        out.append(
            "Flagged already at Gimhae: "
            + "; ".join(f"{k.key} ({k.share:.0%})" for k in gimhae)
            + "."
        )
    out.append(
        "Watch at Gimhae: "
        + "".join(f"{k.key} ({k.share:.0%}); " for k in watch)
        + "the quarantine's single `deposits` partition reaches ~half its limit if a bad "
        "firmware push refuses every deposit with 16 KB payloads; the `all` row is one item "
        "that every stream shard's transaction touches, so concurrent shards meet "
        "TransactionConflict retries long before the WCU limit; the payout run must stay "
        "paced (it posts one ledger entry per citizen, counted on the `all` row in batches)."
    )
    out.append(
        "**At 50 million users these must change**: "
        + "; ".join(f"{k.key} ({k.share:.0%} of a partition)" for k in country)
        + ". Concretely: (1) write-shard the city-totals rows (`all#00`..`all#NN` by a hash "
        "of the entry, summed on read with one BatchGetItem) and keep totals per city, so "
        "that concurrent stream shards stop conflicting on one item (each stream batch is "
        "already one counter update per row, with the per-entry guards in the same "
        "transaction); (2) keep the totals' guards out of the deposits' guard table; "
        "(3) shard the quarantine's partition key (`deposits#<day>#<n>`); (4) any step or "
        "leaderboard total must be sharded or computed by periodic rollups, never one row; "
        f"(5) pace the payout run: its {PAYOUT_BUCKETS} index buckets hold up to "
        f"{int(PAYOUT_BUCKETS * PARTITION_WCU * FLAG_SHARE):,} payouts/s; "
        "(6) the processed-events table takes both guards of every deposit: "
        f"{table_share:.0%} of the default per-table quota, so raise it or split tables by "
        "city; "
        f"(7) Lambda needs ~{total_country:,.0f} concurrent executions if the deposit and "
        "step-sync peaks meet: "
        "a quota increase, or a stack per region/city group; (8) Basic Ingest for every "
        "device-to-rule topic, which removes most of the IoT messaging bill."
    )
    return "\n\n".join(out)
