"""bench/RESULTS.md's writer and the capacity model render (no benchmark runs here)."""

from __future__ import annotations

from pathlib import Path

from bench import capacity, dynamodb_costs, results


def test_the_capacity_model_renders_its_tables_and_a_verdict() -> None:
    markdown = capacity.render()
    for part in ("Hot keys", "IoT Core messages", "Basic Ingest", "Lambda concurrency", "Verdict"):
        assert part in markdown
    assert "city-totals `all`" in markdown
    assert "**over the limit**" in markdown  # the unsharded totals row at 50 million users


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
            "step sync": {"not_built": True},
        },
        "capacity": capacity.render(),
    }
    out = tmp_path / "RESULTS.md"
    results.write(out, sections)
    text = out.read_text(encoding="utf-8")
    for heading in results.HEADINGS.values():
        assert f"## {heading}" in text
    assert "not measured (module missing)" in text
    assert "| step sync | not built yet |" in text


def test_item_sizes_follow_dynamodbs_rules() -> None:
    item = {"pk": {"S": "abc"}, "n": {"N": "12345"}, "m": {"M": {"a": {"BOOL": True}}}}
    # pk 2+3, n 1+(3+1), m 1+(3 + 1+1+1)
    assert dynamodb_costs.item_size(item) == 5 + 5 + 7
    assert dynamodb_costs.write_units(1025) == 2
    assert dynamodb_costs.read_units(0, consistent=False) == 0.5
