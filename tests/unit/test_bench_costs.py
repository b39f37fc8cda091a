"""The monthly cost estimate's arithmetic (bench/costs.py): prices and usage as data, the
capacity model's volumes, the measured units. No benchmark runs here."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from bench import __main__ as bench_cli
from bench import capacity, costs, results
from bench.capacity import COUNTRY, GIMHAE

PRICES = costs.load(costs.PRICES)
USAGE = costs.load(costs.USAGE)


def _line(lines: list[costs.Line], service: str, item: str) -> costs.Line:
    return next(x for x in lines if x.service == service and x.item.startswith(item))


def test_the_price_file_is_dated_sourced_and_in_seoul() -> None:
    assert PRICES["region"] == "ap-northeast-2"
    assert PRICES["currency"] == "USD"
    assert PRICES["as_of"] and "training" in PRICES["as_of"]
    assert "aws.amazon.com" in PRICES["source"]
    for name, price in PRICES["prices"].items():
        assert price["per"] > 0, name
        assert ("usd" in price) != ("tiers" in price), name
    for value in USAGE.values():
        if isinstance(value, dict):
            assert value["why"] and value["value"] >= 0


def test_tiers_are_priced_one_after_another() -> None:
    # GIVEN IoT Core's message tiers: 1 B at $1.20/million, then $0.96
    prices = costs.Prices(PRICES)
    # THEN 1.5 B messages cost the first billion at the first price, the rest at the second
    assert prices.tiered("iot_message_tiers", 1.5e9) == pytest.approx(1000 * 1.20 + 500 * 0.96)
    assert prices.tiered("iot_message_tiers", 0) == 0
    # AND Cognito's Essentials tier: 10,000 MAU free, then $0.015 each
    assert prices.tiered("cognito_essentials_mau_tiers", 200_000) == pytest.approx(2_850)
    # AND Lite, four paid tiers: 90,000 x 0.0055 + 100,000 x 0.0046 at 200,000 users
    assert prices.tiered("cognito_lite_mau_tiers", 200_000) == pytest.approx(495 + 460)


def test_citizens_are_priced_on_lite_and_staff_on_plus() -> None:
    # GIVEN the two user pools of infra/cdk/cognito.py, each on its plan (the synthesized
    # template's UserPoolTier: tests/infra/test_cdk.py)
    lines = costs.monthly(GIMHAE, costs.Prices(PRICES), USAGE)
    # THEN Gimhae's 200,000 citizens cost Lite's $955, the console's 20 staff Plus's $0.40
    assert _line(lines, "Cognito", "citizens' pool").usd == pytest.approx(955)
    assert _line(lines, "Cognito", "staff pool").usd == pytest.approx(20 * 0.02)


def test_deposits_are_priced_from_the_measured_units_and_the_capacity_models_volume() -> None:
    lines = costs.monthly(GIMHAE, costs.Prices(PRICES), USAGE)
    deposits = 500 * capacity.DEPOSITS_PER_ROBOT_DAY * capacity.DAYS_PER_MONTH  # 3 M a month
    wru = capacity.DEFAULT_COSTS["deposit credited (phone)"]["wru"]
    line = _line(lines, "DynamoDB", "writes: deposits credited")
    assert line.quantity == pytest.approx(deposits * wru)  # 30 M WRU
    assert line.usd == pytest.approx(deposits * wru / 1e6 * 0.6778)
    # API Gateway: a sync, a leaderboard view and 2 other reads per user a day
    api = _line(lines, "API Gateway", "REST requests")
    assert api.quantity == pytest.approx(200_000 * 4 * 30)
    assert api.usd == pytest.approx(api.quantity / 1e6 * 3.74)


def test_a_price_changed_in_the_data_changes_the_estimate() -> None:
    # GIVEN DynamoDB's write price doubled in the data
    doubled = copy.deepcopy(PRICES)
    doubled["prices"]["dynamodb_write_request_unit"]["usd"] *= 2
    before = costs.monthly(GIMHAE, costs.Prices(PRICES), USAGE)
    after = costs.monthly(GIMHAE, costs.Prices(doubled), USAGE)
    writes = [x.usd for x in before if x.item.startswith("writes:")]
    # THEN the total grows by exactly the writes' cost, nothing else moves
    assert costs.total(after) - costs.total(before) == pytest.approx(sum(writes))


def test_the_total_is_its_lines_and_grows_with_the_scale() -> None:
    estimate = costs.estimate()
    gimhae, country = estimate[GIMHAE.name], estimate[COUNTRY.name]
    assert [(x.service, x.item) for x in gimhae] == [(x.service, x.item) for x in country]
    assert costs.total(gimhae) == pytest.approx(sum(costs.by_service(gimhae).values()))
    assert 1_000 < costs.total(gimhae) < costs.total(country)
    # Fixed costs (alarms, the web ACL, keys) do not grow with users
    fixed = _line(gimhae, "KMS", "keys")
    assert fixed.usd == _line(country, "KMS", "keys").usd == pytest.approx(2 + 3)


def test_python_m_bench_costs_rewrites_its_section_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a RESULTS.md with the other sections
    output = tmp_path / "RESULTS.md"
    results.write(output, {"machine": {"date": "then"}, "capacity": "the capacity model"})
    # WHEN `python -m bench --costs` runs
    monkeypatch.setattr(sys, "argv", ["bench", "--costs", "--output", str(output)])
    assert bench_cli.main() == 0
    text = output.read_text(encoding="utf-8")
    # THEN its section holds both scales' totals and the prices' date, the others are kept
    section = text.split("## 7. Monthly cost in Seoul (ap-northeast-2)", 1)[1]
    assert "| **total a month** |" in section
    assert "Gimhae" in section and "50 million users" in section
    assert PRICES["as_of"] in section
    assert "the capacity model" in text and "| date | then |" in text


def test_an_idle_stage_costs_its_fixed_lines_and_each_device_adds_a_little() -> None:
    # GIVEN no users and no devices: alarms, dashboard, metrics, the web ACL, keys, pollers,
    # the staff pool
    each = costs.marginal()
    u = {k: v["value"] for k, v in USAGE.items() if isinstance(v, dict)}
    fixed = (
        u["alarms"] * 0.10
        + u["dashboards"] * 3
        + u["custom_metrics"] * 0.30
        + 5
        + u["waf_rules"]
        + u["kms_keys"]
        + u["kms_requests_per_month"] / 1e4 * 0.03
        + u["sqs_polled_queues"] * u["sqs_empty_receives_per_queue_month"] / 1e6 * 0.40
        + u["console_staff"] * 0.02  # the staff pool, on Plus
    )
    # THEN the idle stage is those (plus the console's few requests and the exports' GB)
    assert fixed < each["idle stage"] < fixed + 1
    # AND a device adds cents to a dollar a month, a thousand users tens of dollars
    assert 0.05 < each["per robot"] < 1 and 0.05 < each["per shelter"] < 1
    assert 5 < each["per 1,000 users (beyond Cognito's free 10,000)"] < 40
