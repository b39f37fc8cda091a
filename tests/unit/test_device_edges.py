"""The device edge's two guards as classes: IoT Core's receipt time (the clock every age rule
uses) and the bounded numbers of device payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from chalicelib.domain.device_numbers import IMPLAUSIBLE, MAX_MAGNITUDE, DeviceInt, DeviceNumber
from chalicelib.domain.fleet import TelemetryMessage, check_time, validation_reason
from chalicelib.domain.receipt import ReceiptRejected, receipt_time

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@given(st.datetimes(min_value=datetime(2015, 1, 2), max_value=datetime(2026, 11, 25)))
def test_any_past_receipt_time_is_read_back_to_the_millisecond(moment: datetime) -> None:
    moment = moment.replace(tzinfo=UTC, microsecond=moment.microsecond // 1000 * 1000)
    assert receipt_time(_ms(moment), NOW) == moment


@pytest.mark.parametrize(
    "stamp",
    [None, "1764000000000", 1.5e12, True, -1, 0, 10**400, _ms(NOW + timedelta(minutes=6))],
)
def test_a_stamp_that_cannot_be_iot_cores_is_refused(stamp: Any) -> None:
    with pytest.raises(ReceiptRejected):
        receipt_time(stamp, NOW)


def test_ages_are_judged_at_receipt_not_processing() -> None:
    received = NOW - timedelta(days=30)  # processed a month later
    check_time(received - timedelta(days=6, hours=23), received)  # on time when received


class _Model(BaseModel):
    number: DeviceNumber | None = None
    count: DeviceInt | None = None


@given(
    st.integers(min_value=MAX_MAGNITUDE + 1) | st.integers(max_value=-MAX_MAGNITUDE - 1),
    st.sampled_from(["number", "count"]),
)
def test_any_integer_past_the_magnitude_is_implausible(value: int, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _Model.model_validate({field: value})
    assert {e["type"] for e in refused.value.errors()} == {IMPLAUSIBLE}
    assert validation_reason(refused.value) == "implausible_reading"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_either_passes_bounded_or_is_implausible(value: float) -> None:
    try:
        model = _Model.model_validate({"number": value})
    except ValidationError as e:
        assert validation_reason(e) == "implausible_reading"
    else:
        assert model.number is not None and abs(model.number) <= MAX_MAGNITUDE
        float(model.number)  # never overflows


@pytest.mark.parametrize("value", [True, "42", [1], {"a": 1}])
def test_what_is_not_a_number_is_an_invalid_payload(value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        TelemetryMessage.model_validate({"ts": NOW.isoformat(), "pm10": value})
    assert validation_reason(refused.value) == "invalid_payload"
