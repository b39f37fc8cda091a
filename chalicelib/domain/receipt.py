"""When IoT Core received a device message: the moment every "how old is this message" rule
is judged against (DESIGN §5), never the moment a queue handler happens to process it.

The topic rules stamp each message with `timestamp()` (epoch milliseconds, IoT Core's own
clock) as `received_at`. A backlog, a retry after the visibility timeout or a redrive from
a dead-letter queue delays processing but leaves that stamp alone, so a message that was on
time when it arrived stays on time however late it is handled.

An envelope without a usable stamp did not come from one of our rules as written: it is
refused (quarantined with the reason, nothing is credited or rejected for good), never
judged against the processing clock, which would bring back the very bug the stamp fixes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST: Final = datetime(2015, 1, 1, tzinfo=UTC)
"""No message reached IoT Core before the service existed: an older stamp is garbage."""
CLOCK_SKEW: Final = timedelta(minutes=5)
"""IoT Core's clock and the Lambda's may differ a little; a stamp further in the future
than this was not written by IoT Core."""


class ReceiptRejected(ValueError):
    """The envelope's receipt time is missing or cannot be IoT Core's."""


def receipt_time(received_at_ms: object, now: datetime) -> datetime:
    """The receipt time of an envelope's `received_at` (epoch ms), checked against `now`
    (the processing clock) only for plausibility: not before 2015, not in the future."""
    if received_at_ms is None:
        raise ReceiptRejected("received_at: missing (IoT Core's receipt time)")
    if not isinstance(received_at_ms, int) or isinstance(received_at_ms, bool):
        raise ReceiptRejected("received_at: not an integer of epoch milliseconds")
    earliest = (EARLIEST - EPOCH) // timedelta(milliseconds=1)
    latest = (now + CLOCK_SKEW - EPOCH) // timedelta(milliseconds=1)
    if not earliest <= received_at_ms <= latest:
        # Compared as integers: a 400-digit stamp never reaches a float or a datetime.
        shown = str(received_at_ms) if abs(received_at_ms) < 10**20 else "a huge number"
        raise ReceiptRejected(f"received_at: {shown} is not a plausible receipt time")
    return EPOCH + timedelta(milliseconds=received_at_ms)
