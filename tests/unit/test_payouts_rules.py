"""Payout rules in the domain (chalicelib.domain: payout_accounts, payout_runs,
transfer_files, ledger_audit): banks, the account a citizen gives, masking, periods and the
schedule, the transfer file, settlement steps, and one citizen's audit."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from chalicelib.domain import ledger_audit, payout_accounts, payout_runs, transfer_files
from chalicelib.domain.ledger import LedgerEntry
from chalicelib.errors import Unprocessable
from infra.local.schedule_expressions import next_fire


@pytest.mark.parametrize(
    ("given", "code"),
    [("011", "011"), ("NH", "011"), ("nh", "011"), ("004", "004"), ("KB", "004"),
     ("088", "088"), ("Shinhan", "088"), ("신한은행", "088"), (" Kakao Bank ", "090"),
     ("ＫＢ", "004")],
)  # fmt: skip
def test_a_bank_is_its_code_or_a_short_name(given: str, code: str) -> None:
    bank = payout_accounts.resolve_bank(given)
    assert bank is not None and bank.code == code


@pytest.mark.parametrize("given", ["999", "", "Bank of Nowhere", "0 11", "x" * 500, "11"])
def test_an_unknown_bank_is_none(given: str) -> None:
    assert payout_accounts.resolve_bank(given) is None


def test_a_good_account_is_kept_as_code_digits_and_a_clean_name() -> None:
    judged = payout_accounts.judge_account("Shinhan", "110-123-456789", "  홍  길동 ")
    assert judged == payout_accounts.PayoutAccountDetails("088", "110123456789", "홍 길동")
    assert judged.last4 == "6789"


@pytest.mark.parametrize(
    ("number", "ok"),
    [("1234567890", True), ("1234567890123456", True), ("123456789", False),
     ("12345678901234567", False), ("123-456-7890", True), ("-1234567890", False),
     ("1234567890-", False), ("123--4567890", False), ("１２３４５６７８９０", False),
     ("١٢٣٤٥٦٧٨٩٠", False), ("1234 567890", False), ("+1234567890", False)],
)  # fmt: skip
def test_an_account_number_is_10_to_16_ascii_digits_with_hyphens(number: str, ok: bool) -> None:
    if ok:
        assert payout_accounts.judge_account("NH", number, "Kim").account_digits.isdigit()
    else:
        with pytest.raises(Unprocessable) as raised:
            payout_accounts.judge_account("NH", number, "Kim")
        assert [d["field"] for d in raised.value.details] == ["account_number"]


@pytest.mark.parametrize(
    "holder", ["", "   ", "=HYPERLINK(\"x\")", "-Kim", "Kim1", "Kim\u0000", "a" * 31, "@Kim",
               "Kim\nLee", "+82"],
)  # fmt: skip
def test_a_holder_is_a_sane_name(holder: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        payout_accounts.judge_account("NH", "1234567890", holder)
    assert [d["field"] for d in raised.value.details] == ["holder"]


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(Unprocessable) as raised:
        payout_accounts.judge_account(12, None, ["x"])
    assert raised.value.status == 422
    assert [d["field"] for d in raised.value.details] == ["bank", "account_number", "holder"]


def test_the_masked_view_shows_only_the_last_four_digits() -> None:
    stored = payout_accounts.StoredPayoutAccount(
        "c1", "088", "ciphertext", "6789", "홍길동", datetime(2026, 11, 1, tzinfo=UTC)
    )
    view = payout_accounts.masked_view(stored)
    assert view == {
        "bank_code": "088",
        "bank_name": "신한은행",
        "account_number": "******6789",
        "holder": "홍길동",
    }


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", 202611,
                                  "2026-11 ", "１９９９-01", "1999-12"])  # fmt: skip
def test_a_period_is_a_real_month(text: object) -> None:
    with pytest.raises(Unprocessable):
        payout_runs.parse_period(text)


def test_a_period_parses_and_steps_back_over_new_year() -> None:
    assert str(payout_runs.parse_period("2026-11")) == "2026-11"
    assert payout_runs.Period(2026, 1).previous == payout_runs.Period(2025, 12)


def test_the_schedule_fires_on_the_1st_at_03_00_seoul_and_pays_the_month_that_ended() -> None:
    from chalicelib import config

    fired = next_fire(config.PAYOUT_SCHEDULE_UTC, datetime(2026, 11, 25, tzinfo=UTC))
    assert fired == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # 2026-12-01 03:00 KST
    assert str(payout_runs.scheduled_period(fired)) == "2026-11"
    fired = next_fire(config.PAYOUT_SCHEDULE_UTC, datetime(2027, 2, 2, tzinfo=UTC))
    assert fired == datetime(2027, 2, 28, 18, 0, tzinfo=UTC)  # 2027-03-01 03:00 KST
    assert str(payout_runs.scheduled_period(fired)) == "2027-02"


def test_the_transfer_file_is_utf8_with_bom_and_the_design_columns() -> None:
    body = transfer_files.transfer_csv(
        [
            transfer_files.TransferRow(
                "c1", "088", "110123456789", "홍길동, 주", 2150, "김해포인트 2026-11"
            )
        ]
    )
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == list(transfer_files.CSV_COLUMNS)
    assert rows[1] == ["c1", "088", "110123456789", "홍길동, 주", "2150", "김해포인트 2026-11"]


def test_the_memo_fits_a_passbook() -> None:
    assert len(transfer_files.memo_for(payout_runs.Period(2026, 11))) <= transfer_files.MEMO_MAX


@pytest.mark.parametrize(
    ("current", "wanted", "step"),
    [("pending", "paid", "apply"), ("pending", "failed", "apply"), ("paid", "paid", "unchanged"),
     ("failed", "failed", "unchanged"), ("paid", "failed", "conflict"),
     ("failed", "paid", "conflict")],
)  # fmt: skip
def test_an_item_settles_once_and_never_the_other_way(
    current: payout_runs.ItemStatus, wanted: str, step: str
) -> None:
    assert payout_runs.settle_step(current, wanted) == step  # type: ignore[arg-type]


def test_a_settlement_may_not_name_a_citizen_both_ways() -> None:
    with pytest.raises(Unprocessable) as raised:
        payout_runs.judge_settlement(["a", "b"], ["b"], 10)
    assert raised.value.code == "conflicting_outcomes"


def _entry(n: int, kind: str, points: int, after: int) -> LedgerEntry:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return LedgerEntry("c1", f"{n:012d}-x", kind, points, after, at, f"g{n}", {})


def test_a_clean_ledger_has_no_discrepancy() -> None:
    entries = [_entry(1, "recycling", 1500, 1500), _entry(2, "recycling", 600, 2100),
               _entry(3, "payout", -2100, 0), _entry(4, "payout_reversal", 2100, 2100)]  # fmt: skip
    citizen = ledger_audit.AuditedCitizen("c1", 2100, 2100, 0)
    assert ledger_audit.audit_citizen(citizen, entries) == []


def test_a_corrupted_balance_and_a_broken_chain_are_found() -> None:
    entries = [_entry(1, "recycling", 1500, 1500), _entry(2, "recycling", 600, 2000)]
    found = ledger_audit.audit_citizen(ledger_audit.AuditedCitizen("c1", 9999, 2100, 0), entries)
    problems = {d.problem for d in found}
    assert {"chain_broken", "balance_mismatch"} <= problems
    mismatch = next(d for d in found if d.problem == "balance_mismatch")
    assert (mismatch.balance, mismatch.ledger_sum) == (9999, 2100)


def test_city_totals_balance_only_when_the_three_records_agree() -> None:
    run = payout_runs.RunSummary(
        "payout-2026-11", "2026-11", "ready", datetime(2026, 12, 1, tzinfo=UTC), "a",
        16, 16, 2, 5000, 0, 0, paid_items=1, paid_points=2000,
    )  # fmt: skip
    good = ledger_audit.city_totals(issued=9000, ledger_paid=5000, held=4000, runs=[run])
    assert good["balanced"] is True and good["points_pending"] == 3000
    bad = ledger_audit.city_totals(issued=9000, ledger_paid=5000, held=4100, runs=[run])
    assert bad["balanced"] is False and bad["difference"] == -100
