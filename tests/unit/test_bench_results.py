"""bench/RESULTS.md's writer and the capacity model render (no benchmark runs here)."""

from __future__ import annotations

from pathlib import Path

from bench import capacity, dynamodb_costs, results


def test_the_capacity_model_renders_its_tables_and_a_verdict() -> None:
    markdown = capacity.render()
    for part in ("Hot keys", "IoT Core messages", "Basic Ingest", "Lambda concurrency", "Verdict"):
        assert part in markdown
    assert "city-totals `all`" in markdown
    assert "**over the limit**" in markdown  # unsharded boards and groups at 50 million users
    assert "not built" not in markdown


def test_the_capacity_model_prices_the_built_keys() -> None:
    markdown = capacity.render()
    for key in (
        capacity.WEEK_ENTRIES,
        capacity.WEEK_INDEX,
        capacity.WEEK_TOP,
        capacity.WEEK_DISTRICTS,
        capacity.STEPS_ROW,
        capacity.SHELTER_GROUP,
        "one shelter's `air-hours` partition",
        "PUT /v1/me/steps (API)",
        "handle_step_boards (stream)",
        "handle_device_reports (SQS): shelter telemetry",
    ):
        assert key in markdown, key
    verdict = markdown.split("### Verdict", 1)[1]
    # Computed from the rows: the boards' hot keys at Gimhae, the shards they need at scale.
    assert capacity.WEEK_ENTRIES in verdict
    assert "board#s<hash(citizen) % N>" in verdict
    assert "`by-group` index" in verdict
    assert "(4) any step or leaderboard total" not in verdict


def test_the_board_keys_follow_the_measured_record_costs() -> None:
    costs = {
        capacity.BOARD_RECORD: {
            "wru": 44.0,
            "item_bytes": {"board-entries": 1500, "board-counts": 58, "city-totals": 53},
        },
        capacity.BOARD_BATCH + " counts": {
            "wru_of_indexes": 12.0,
            "by_operation": {"dynamodb:TransactWriteItems": 20},
            "batch_records": 100,
        },
    }
    keys = {(k.key, k.scale): k for k in capacity.hot_keys(costs)}
    records = capacity.rates(capacity.GIMHAE).step_days_s
    # A 1.5 KB entry is 2 write units, twice in a transaction; 12 index WRU over 4 boards.
    assert keys[(capacity.WEEK_ENTRIES, "Gimhae")].wcu_s == records * 4
    assert keys[(capacity.WEEK_INDEX, "Gimhae")].wcu_s == records * 3
    top = keys[(capacity.WEEK_TOP, "Gimhae")]
    assert top.wcu_s == records * 2  # worst case: one ADD per record, a node under 1 KB
    assert f"{records * 0.2 * 2:.1f} WCU/s" in top.note  # 0.2 transactions a record


def test_the_lambda_durations_come_from_the_measured_calls() -> None:
    loads = {ld.function: ld for ld in capacity.lambda_loads({}, None)}
    sync = loads["PUT /v1/me/steps (API)"]
    # 1 BatchGetItem + 2 UpdateItem (today and yesterday) + the handler's CPU.
    expected = capacity.MS_PER_READ + 2 * capacity.MS_PER_WRITE + capacity.MS_HANDLER_CPU
    assert sync.duration_ms == expected
    boards = loads["handle_step_boards (stream)"]
    per_batch = 4 * capacity.MS_PER_READ + 10 * capacity.MS_PER_TRANSACTION
    assert boards.duration_ms == (per_batch + capacity.MS_HANDLER_CPU) / 100


def test_the_capacity_model_uses_measured_costs() -> None:
    measured = {
        "ledger stream batch (city totals), per entry of 3": {
            "wru": 6.0,
            "item_bytes": {"city-totals": 3000},
        }
    }
    rows = [k for k in capacity.hot_keys(measured) if k.key.startswith("city-totals `all` (and")]
    # 25 entries/s reach the row in stream batches: one ledger shard polled 4 times a second,
    # each batch one update; 3 KB rows cost 3 WRU each, twice in a transaction.
    assert rows[0].wcu_s == 4 * 2 * 3


def test_results_write_every_section(tmp_path: Path) -> None:
    sections = {
        "machine": {
            "date": "2026-11-25",
            "cpus": 2,
            "cpu_model": "x",
            "memory": "1 GiB",
            "os": "Linux",
            "versions": {"python": "3.12", "mosquitto": "2.0"},
        },
        "local_stack": {
            "table_scaling": {"credit_ms_by_rows_per_table": {0: {"moto": 1}}},
            "throughput": results.MISSING,
            "ack_paced": {"ack_ms_p50": 1.0},
            "ack_back_to_back": "failed: boom",
        },
        "cold_start": results.MISSING,
        "dynamodb": {
            "deposit credited (phone)": {
                "dynamodb_requests": 3,
                "rru": 4.0,
                "wru": 8.0,
                "wru_of_indexes": 0.0,
            },
            "step sync, today raised": {
                "dynamodb_requests": 2,
                "rru": 2.0,
                "wru": 1.0,
                "by_operation": {"dynamodb:BatchGetItem": 1, "dynamodb:UpdateItem": 1},
            },
            "step-board stream, per record, batch of 100": {
                "dynamodb_requests": 0.14,
                "rru": 2.0,
                "wru": 27.18,
                "wru_of_indexes": 8.0,
                "by_operation": {"dynamodb:TransactWriteItems": 10},
                "calls_for": "the batch of 100 records",
            },
        },
        "capacity": capacity.render(),
    }
    out = tmp_path / "RESULTS.md"
    results.write(out, sections)
    text = out.read_text(encoding="utf-8")
    for heading in results.HEADINGS.values():
        assert f"## {heading}" in text
    assert "not measured (module missing)" in text
    assert "not built" not in text
    assert (
        "| step sync, today raised | 2 | 2.0 | 1.0 (0) | "
        "dynamodb:BatchGetItem 1, dynamodb:UpdateItem 1 |" in text
    )
    assert "| 27.18 (8.0) | for the batch of 100 records: dynamodb:TransactWriteItems 10 |" in text


def test_item_sizes_follow_dynamodbs_rules() -> None:
    item = {"pk": {"S": "abc"}, "n": {"N": "12345"}, "m": {"M": {"a": {"BOOL": True}}}}
    # pk 2+3, n 1+(3+1), m 1+(3 + 1+1+1)
    assert dynamodb_costs.item_size(item) == 5 + 5 + 7
    assert dynamodb_costs.write_units(1025) == 2
    assert dynamodb_costs.read_units(0, consistent=False) == 0.5


def test_a_section_is_rewritten_alone_in_its_place(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    results.write(out, {"machine": "m", "dynamodb": "old figures", "capacity": "model"})
    row = {"dynamodb_requests": 1, "rru": 0.5, "wru": 0.0, "wru_of_indexes": 0.0,
           "items_written": 0, "by_operation": {"dynamodb:Query": 1}}  # fmt: skip
    control_room = {"measured_at": "2026-12-07 20:00 UTC", "rows": {"alert list": row}}
    results.rewrite_sections(out, {"control_room": control_room})  # missing: added at its place
    results.rewrite_sections(out, {"dynamodb": "new figures"}, note="Re-measured alone.")
    text = out.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [f"## {h}" for h in results.HEADINGS.values()]
    assert "old figures" not in text and "new figures" in text and "model" in text
    assert text.count("Re-measured alone.") == 1
    assert "Re-measured alone.\n\nMethod: `bench_requests`" in text
    assert "Measured 2026-12-07 20:00 UTC." in text
    assert "| alert list | 1 | 0.5 | 0.0 (0.0) | 0 | dynamodb:Query 1 |  |" in text


def test_a_filtered_query_is_billed_for_what_it_read() -> None:
    meter = dynamodb_costs.Meter(original=None)
    item = {"pk": {"S": "x" * 2000}}  # ~2 KB
    meter._charge_read("Query", {"ConsistentRead": True}, {"Items": [item], "ScannedCount": 1})
    assert meter.reset().rru == 1.0
    # nine more read and dropped by the filter: ~20 KB read, 5 RRU
    meter._charge_read("Query", {"ConsistentRead": True}, {"Items": [item], "ScannedCount": 10})
    assert meter.reset().rru == 5.0
