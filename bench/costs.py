"""The monthly AWS bill at Gimhae's scale and at 50 million users, in Seoul
(ap-northeast-2): the capacity model's volumes (bench/capacity.py) times the capacity units
and calls measured per business event (bench/dynamodb_costs.py, bench/RESULTS.md §3), priced
from bench/prices_ap_northeast_2.json (dated, with its source) under the usage assumptions of
bench/cost_usage.json. Prices and assumptions are data so a person can update them; this
module is only arithmetic. `python -m bench --costs` writes the section of bench/RESULTS.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import capacity
from bench.capacity import DAYS_PER_MONTH, GIMHAE, MINUTES_PER_MONTH, SCALES, Scale

HERE = Path(__file__).resolve().parent
PRICES = HERE / "prices_ap_northeast_2.json"
USAGE = HERE / "cost_usage.json"
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60
GB = 1024**3
# The measured per-event rows this estimate prices (labels as bench/RESULTS.md §3).
DEPOSIT = "deposit credited (phone)"
TOTALS = "ledger stream batch"
CITIZEN_READ_RRU = 2.0  # §5 "citizen card": one BatchGetItem of a citizen's rows


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class Prices:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._p: dict[str, Any] = data["prices"]

    def of(self, name: str, quantity: float) -> float:
        """The price of `quantity` units at a flat price."""
        p = self._p[name]
        return quantity / p["per"] * p["usd"]

    def tiered(self, name: str, quantity: float) -> float:
        """The price of `quantity` units over consecutive tiers [size or null, price]."""
        p = self._p[name]
        cost, left = 0.0, quantity
        for size, price in p["tiers"]:
            part = left if size is None else min(left, size)
            cost += part / p["per"] * price
            left -= part
            if left <= 0:
                break
        return cost


@dataclass(frozen=True)
class Volumes:
    """A month's business events at one scale."""

    deposits: float
    step_syncs: float
    step_days: float
    board_views: float
    app_reads: float
    telemetry: float
    robot_status: float
    payouts: float
    api_requests: float


def volumes(scale: Scale, usage: dict[str, Any]) -> Volumes:
    u = _values(usage)
    syncs = scale.users * u["step_syncs_per_user_day"] * DAYS_PER_MONTH
    views = syncs * capacity.LEADERBOARD_VIEWS_PER_SYNC
    reads = scale.users * u["other_app_reads_per_user_day"] * DAYS_PER_MONTH
    return Volumes(
        deposits=scale.robots * capacity.DEPOSITS_PER_ROBOT_DAY * DAYS_PER_MONTH,
        step_syncs=syncs,
        step_days=syncs * capacity.STEP_DAYS_PER_SYNC,
        board_views=views,
        app_reads=reads,
        telemetry=scale.shelters * SECONDS_PER_MONTH / capacity.TELEMETRY_INTERVAL_S,
        robot_status=scale.robots * SECONDS_PER_MONTH / capacity.ROBOT_STATUS_INTERVAL_S,
        payouts=scale.users * capacity.PAYOUT_ELIGIBLE_SHARE,
        api_requests=syncs + views + reads,
    )


def _values(usage: dict[str, Any]) -> dict[str, float]:
    return {k: float(v["value"]) for k, v in usage.items() if isinstance(v, dict)}


def _f(cost: dict[str, Any], key: str) -> float:
    return float(cost.get(key, 0.0))


def monthly(
    scale: Scale,
    prices: Prices,
    usage: dict[str, Any],
    measured: dict[str, Any] | None = None,
) -> list[Line]:
    """Every priced line of one month at `scale`."""
    measured = measured or {}
    u = _values(usage)
    v = volumes(scale, usage)
    # Per event, as measured (bench/RESULTS.md §3), else the capacity model's copy of it.
    deposit, totals, sync, board, rank, top, telemetry, robot, payout = (
        capacity._cost(measured, label)
        for label in (
            DEPOSIT,
            TOTALS,
            capacity.STEP_SYNC,
            capacity.BOARD_BATCH,
            capacity.MY_RANK,
            capacity.TOP_10,
            capacity.TELEMETRY,
            capacity.ROBOT_STATUS,
            capacity.PAYOUT,
        )
    )
    fleet = capacity.fleet_costs(measured)
    # A steady reading's measured WRU bills a fresh hour's air-hours item (1 WRU); over the
    # hour the item grows, so its mean write is fleet.air_mean_wru.
    telemetry_wru = _f(telemetry, "wru") - 1 + fleet.air_mean_wru
    units = [
        ("deposits credited", v.deposits, _f(deposit, "rru"), _f(deposit, "wru")),
        ("city totals (ledger stream)", v.deposits, _f(totals, "rru"), _f(totals, "wru")),
        ("step syncs", v.step_syncs, _f(sync, "rru"), _f(sync, "wru")),
        ("step boards (stream, full batches)", v.step_days, _f(board, "rru"), _f(board, "wru")),
        ("leaderboard views", v.board_views, _f(rank, "rru") + _f(top, "rru"), 0.0),
        ("other app reads", v.app_reads, CITIZEN_READ_RRU, 0.0),
        ("shelter telemetry", v.telemetry, _f(telemetry, "rru"), telemetry_wru),
        ("robot status", v.robot_status, _f(robot, "rru"), _f(robot, "wru")),
        ("payouts", v.payouts, _f(payout, "rru"), _f(payout, "wru")),
    ]
    lines: list[Line] = []
    add = lines.append
    for name, events, rru, wru in units:
        if wru:
            q = events * wru
            add(
                Line(
                    "DynamoDB",
                    f"writes: {name}",
                    q,
                    "WRU",
                    prices.of("dynamodb_write_request_unit", q),
                )
            )
        if rru:
            q = events * rru
            add(
                Line(
                    "DynamoDB",
                    f"reads: {name}",
                    q,
                    "RRU",
                    prices.of("dynamodb_read_request_unit", q),
                )
            )
    stored = (
        scale.users * u["dynamodb_bytes_per_user"]
        + v.deposits * u["dynamodb_months_kept"] * u["dynamodb_bytes_per_deposit"]
    ) / GB
    add(Line("DynamoDB", "storage", stored, "GB", prices.of("dynamodb_storage_gb_month", stored)))
    add(
        Line(
            "DynamoDB",
            "point-in-time recovery",
            stored,
            "GB",
            prices.of("dynamodb_pitr_gb_month", stored),
        )
    )

    # Lambda: each event's estimated AWS duration (capacity.lambda_loads) at prod's memory.
    invocations, gb_s = _lambda(scale, v, measured, u["lambda_memory_gb"])
    add(
        Line(
            "Lambda",
            "requests",
            invocations,
            "invocations",
            prices.of("lambda_request", invocations),
        )
    )
    add(Line("Lambda", "compute (x86_64)", gb_s, "GB-s", prices.of("lambda_gb_second_x86", gb_s)))

    add(
        Line(
            "API Gateway",
            "REST requests",
            v.api_requests,
            "requests",
            prices.tiered("api_gateway_rest_request_tiers", v.api_requests),
        )
    )

    iot = capacity.iot_monthly(scale)
    messages = sum(n for _, n, _ in iot)
    rules = sum(n for _, n, inbound in iot if inbound)
    minutes = (scale.robots + scale.shelters) * MINUTES_PER_MONTH
    shadow = scale.shelters * u["shadow_operations_per_shelter_day"] * DAYS_PER_MONTH
    add(
        Line(
            "IoT Core",
            "messages",
            messages,
            "messages",
            prices.tiered("iot_message_tiers", messages),
        )
    )
    add(
        Line(
            "IoT Core",
            "rules triggered + actions",
            rules,
            "rules",
            prices.of("iot_rule_triggered", rules) + prices.of("iot_rule_action", rules),
        )
    )
    add(
        Line(
            "IoT Core",
            "connectivity",
            minutes,
            "minutes",
            prices.of("iot_connectivity_minute", minutes),
        )
    )
    add(
        Line(
            "IoT Core",
            "shadow operations",
            shadow,
            "operations",
            prices.of("iot_shadow_operation", shadow),
        )
    )

    queued = v.deposits + v.telemetry + v.robot_status
    sqs = (
        queued * u["sqs_requests_per_message"]
        + u["sqs_polled_queues"] * u["sqs_empty_receives_per_queue_month"]
    )
    add(Line("SQS", "requests", sqs, "requests", prices.of("sqs_standard_request", sqs)))

    notices = (scale.robots + scale.shelters) * u["alert_notices_per_device_month"]
    add(
        Line(
            "SNS",
            "alert notices (publish + e-mail)",
            notices,
            "publishes",
            prices.of("sns_publish", notices)
            + prices.of("sns_email_delivery", notices * u["alert_email_subscribers"]),
        )
    )

    console_requests = u["console_staff"] * u["console_requests_per_staff_month"]
    console_gb = console_requests * u["console_bytes_per_request"] / GB
    add(
        Line(
            "CloudFront",
            "console requests and transfer",
            console_requests,
            "requests",
            prices.of("cloudfront_https_request", console_requests)
            + prices.of("cloudfront_data_out_gb", console_gb),
        )
    )
    add(
        Line(
            "S3",
            "console and exports",
            u["exports_gb"],
            "GB",
            prices.of("s3_standard_gb_month", u["exports_gb"])
            + prices.of("s3_put_request", 1000)
            + prices.of("s3_get_request", 10000),
        )
    )

    logs_gb = (
        invocations * u["log_bytes_per_lambda_invocation"]
        + v.api_requests * u["log_bytes_per_api_request"]
    ) / GB
    add(
        Line(
            "CloudWatch",
            "logs ingested",
            logs_gb,
            "GB",
            prices.of("cloudwatch_logs_ingested_gb", logs_gb),
        )
    )
    add(
        Line(
            "CloudWatch",
            "logs stored",
            logs_gb * u["log_retention_months"],
            "GB",
            prices.of("cloudwatch_logs_stored_gb_month", logs_gb * u["log_retention_months"]),
        )
    )
    add(
        Line(
            "CloudWatch",
            "alarms, dashboard, custom metrics",
            u["alarms"] + u["dashboards"] + u["custom_metrics"],
            "items",
            prices.of("cloudwatch_alarm_month", u["alarms"])
            + prices.of("cloudwatch_dashboard_month", u["dashboards"])
            + prices.of("cloudwatch_metric_month", u["custom_metrics"]),
        )
    )

    add(
        Line(
            "WAF",
            "web ACL, rules, requests",
            v.api_requests,
            "requests",
            prices.of("waf_web_acl_month", 1)
            + prices.of("waf_rule_month", u["waf_rules"])
            + prices.of("waf_request", v.api_requests),
        )
    )

    mau = scale.users * u["cognito_mau_share"]
    add(
        Line(
            "Cognito",
            "citizens' pool: monthly active users (Lite, infra/cdk/cognito.py)",
            mau,
            "MAU",
            prices.tiered("cognito_lite_mau_tiers", mau),
        )
    )
    add(
        Line(
            "Cognito",
            "staff pool: monthly active users (Plus: threat protection)",
            u["console_staff"],
            "MAU",
            prices.tiered("cognito_plus_mau_tiers", u["console_staff"]),
        )
    )

    add(
        Line(
            "KMS",
            "keys and requests",
            u["kms_keys"],
            "keys",
            prices.of("kms_key_month", u["kms_keys"])
            + prices.of("kms_request", u["kms_requests_per_month"]),
        )
    )
    return lines


def _lambda(
    scale: Scale, v: Volumes, measured: dict[str, Any], memory_gb: float
) -> tuple[float, float]:
    """(invocations, GB-seconds) a month: every function of capacity.lambda_loads at its
    events' monthly volume; queue and stream functions run a batch an invocation."""
    per_event = {ld.function: ld.duration_ms for ld in capacity.lambda_loads(measured, None)}
    monthly_events = {
        "handle_deposits (SQS)": (v.deposits, 1),
        "handle_ledger_changes (stream)": (
            v.deposits,
            capacity._cost(measured, TOTALS).get("batch_records", 1),
        ),
        "PUT /v1/me/steps (API)": (v.step_syncs, 1),
        # The other app reads are taken to run as long as a leaderboard view (3 reads).
        "GET /v1/leaderboards/steps (API: my rank + top 10)": (v.board_views + v.app_reads, 1),
        "handle_step_boards (stream)": (v.step_days, capacity.STEP_STREAM_BATCH),
        "handle_device_reports (SQS): shelter telemetry": (v.telemetry, 1),
        "handle_device_reports (SQS): robot status": (v.robot_status, 1),
    }
    invocations = gb_s = 0.0
    for function, (events, batch) in monthly_events.items():
        invocations += events / float(batch)
        gb_s += events * per_event[function] / 1000 * memory_gb
    # Payouts: one chunk an invocation, priced like a deposit's transaction each.
    invocations += capacity.PAYOUT_BUCKETS if v.payouts else 0  # one chunk per bucket
    gb_s += v.payouts * per_event["handle_deposits (SQS)"] / 1000 * memory_gb
    return invocations, gb_s


def total(lines: list[Line]) -> float:
    return sum(line.usd for line in lines)


def by_service(lines: list[Line]) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in lines:
        out[line.service] = out.get(line.service, 0.0) + line.usd
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _usd(x: float) -> str:
    return f"${x:,.0f}" if x >= 10 else f"${x:,.2f}"


def _q(x: float) -> str:
    if x >= 1e9:
        return f"{x / 1e9:,.2f} B"
    if x >= 1e6:
        return f"{x / 1e6:,.1f} M"
    return f"{x:,.0f}" if x >= 10 else f"{x:,.2f}"


# What a stage costs before anyone uses it, and what each user and device adds (deploy guide).
IDLE = Scale("an idle stage", 0, 0, 0, GIMHAE.districts)


def marginal(measured: dict[str, Any] | None = None) -> dict[str, float]:
    """USD a month: an idle stage, and what 1,000 users, one robot and one shelter add."""
    prices, usage = Prices(load(PRICES)), load(USAGE)

    def month(users: int, robots: int, shelters: int) -> float:
        scale = Scale("", users, robots, shelters, GIMHAE.districts)
        return total(monthly(scale, prices, usage, measured))

    idle = month(0, 0, 0)
    return {
        "idle stage": idle,
        "per 1,000 users (beyond Cognito's free 10,000)": month(11_000, 0, 0) - month(10_000, 0, 0),
        "per robot": month(0, 1, 0) - idle,
        "per shelter": month(0, 0, 1) - idle,
    }


def estimate(measured: dict[str, Any] | None = None) -> dict[str, list[Line]]:
    prices, usage = Prices(load(PRICES)), load(USAGE)
    return {s.name: monthly(s, prices, usage, measured) for s in SCALES}


def render(measured: dict[str, Any] | None = None) -> str:
    prices_data, usage = load(PRICES), load(USAGE)
    prices = Prices(prices_data)
    by_scale = {s.name: monthly(s, prices, usage, measured) for s in SCALES}
    out: list[str] = []
    add = out.append
    add(
        f"Method: `python -m bench --costs` (bench/costs.py): the capacity model's monthly "
        f"volumes (§4: {capacity.DEPOSITS_PER_ROBOT_DAY} deposits per robot a day, shelter "
        f"telemetry and robot status every {capacity.TELEMETRY_INTERVAL_S} s, one step sync "
        f"a user a day raising {capacity.STEP_DAYS_PER_SYNC} days and followed by "
        f"{capacity.LEADERBOARD_VIEWS_PER_SYNC:g} leaderboard view, "
        f"{capacity.PAYOUT_ELIGIBLE_SHARE:.0%} of users paid a month) times the capacity "
        "units and calls measured per event ("
        + (
            "§3's run"
            if measured
            else "bench/capacity.py `DEFAULT_COSTS`, §3's figures when "
            "the model was written: `--only dynamodb` re-prices from a fresh measurement"
        )
        + "; Lambda durations as §4 estimates them), "
        f"priced in {prices_data['region']} from bench/prices_ap_northeast_2.json "
        f"(as of {prices_data['as_of']}; source: {prices_data['source']}). {prices_data['notes']}"
    )
    add("")
    add(
        "Usage assumed beyond §4 (bench/cost_usage.json): "
        + "; ".join(
            f"{k.replace('_', ' ')} {v['value']:,} ({v['why']})"
            for k, v in usage.items()
            if isinstance(v, dict)
        )
        + "."
    )
    add("")
    add("| service | " + " | ".join(by_scale) + " |")
    add("|---|" + "---|" * len(by_scale) + "")
    services = by_service(by_scale[SCALES[-1].name])
    per = {name: by_service(lines) for name, lines in by_scale.items()}
    for service in services:
        add(f"| {service} | " + " | ".join(_usd(per[n].get(service, 0.0)) for n in by_scale) + " |")
    add(
        "| **total a month** | "
        + " | ".join(f"**{_usd(total(ls))}**" for ls in by_scale.values())
        + " |"
    )
    add(
        "| per user a month | "
        + " | ".join(
            f"${total(ls) / s.users:.4f}" for s, ls in zip(SCALES, by_scale.values(), strict=True)
        )
        + " |"
    )
    add("")
    add(
        "What a stage costs before use, and what each user and device adds (the same lines "
        "at other scales; the deploy guide, docs/deploy.md, quotes these):"
    )
    add("")
    add("| | USD a month |")
    add("|---|---|")
    for name, usd in marginal(measured).items():
        add(f"| {name} | {_usd(usd)} |")
    add("")
    add("Every line:")
    add("")
    add("| service | line | " + " | ".join(f"{n}: quantity, cost" for n in by_scale) + " |")
    add("|---|---|" + "---|" * len(by_scale))
    first = by_scale[SCALES[0].name]
    for i, line in enumerate(first):
        cells = [
            f"{_q(ls[i].quantity)} {ls[i].unit}, {_usd(ls[i].usd)}" for ls in by_scale.values()
        ]
        add(f"| {line.service} | {line.item} | " + " | ".join(cells) + " |")
    add("")
    essentials = {
        s.name: prices.tiered(
            "cognito_essentials_mau_tiers", s.users * _values(usage)["cognito_mau_share"]
        )
        for s in SCALES
    }
    lite = {n: next(x.usd for x in ls if x.service == "Cognito") for n, ls in by_scale.items()}
    add(
        "Not counted: data transfer out of the API (small JSON answers), free tiers, "
        "Lambda's init phase, taxes, support plans. The citizens' user pool is on Cognito's "
        "Lite plan (infra/cdk/cognito.py: sign-up, SRP sign-in and optional TOTP need "
        "nothing more); on Essentials, the default for a pool that sets no plan, the same "
        "citizens would cost "
        + ", ".join(f"{_usd(essentials[n])} instead of {_usd(lite[n])} ({n})" for n in lite)
        + ". The staff pool is on Plus for its threat protection, at the console's staff."
    )
    return "\n".join(out) + "\n"
