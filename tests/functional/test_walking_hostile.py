"""Hostile checks of the walking capability (steps, boards, challenges) through the real
routes and stream handlers on moto: deliveries and timings that must not change who is
paid, and inputs that must never be a 5xx."""

from __future__ import annotations

from chalicelib import streams
from tests.functional.conftest import Api, table_stream_event
from tests.functional.test_challenges import (
    _create,
    _invoke_steps,
    _later,
    _mine,
    _prizes,
    _register,
    _steps,
    _today,
)


def test_a_lottery_waits_until_late_step_syncs_can_no_longer_count(api: Api) -> None:
    """A day of the window may be synced up to 7 days later (DESIGN §5), and its stream
    record arrives later still: a draw made before that would leave out a citizen who
    finished inside the window, depending only on when their phone synced."""
    # GIVEN a lottery ending today, one finisher who synced in time, one who walks today
    made = _create(
        api,
        starts_on=_today().isoformat(),
        target=5000,
        daily_cap=None,
        prize={"type": "lottery", "points": 400, "winners": 2},
    )
    challenge_id = made["challenge_id"]
    for who in ("w-early", "w-late"):
        _register(api, who)
        assert api.call("POST", f"/v1/challenges/{challenge_id}/entries", as_user=who).status == 201
    _steps("w-early", _today(), 6000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    draw_path = f"/v1/admin/challenges/{challenge_id}/draw"

    # WHEN the admin draws the day after the end, before the late phone synced
    _later(1)
    early = api.call("POST", draw_path, as_user="ops", admin=True)

    # THEN the draw is refused: the window's days can still be synced
    assert (early.status, early.body["error"]["code"]) == (409, "challenge_open"), early.body

    # AND the late sync (day 7 after the end, for the last day) still counts
    _steps("w-late", _today(), 7000)
    _invoke_steps(table_stream_event(streams.STEP_CHALLENGES))
    assert _mine(api, "w-late", challenge_id)["progress"]["finished"] is True
    _later(8)
    assert api.call("POST", draw_path, as_user="ops", admin=True).status == 409

    # WHEN the sync window and a day of stream lag are over
    _later(9)
    drawn = api.call("POST", draw_path, as_user="ops", admin=True)

    # THEN both finishers are in the draw, and both (2 winners) are paid once
    assert drawn.status == 201, drawn.body
    assert drawn.body["finishers"] == ["w-early", "w-late"]
    for who in ("w-early", "w-late"):
        assert len(_prizes(api, who)) == 1
