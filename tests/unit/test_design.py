"""The design in docs/design.md cannot drift from the code on what devices rely on: its §3
topic table (topic, direction, QoS) is the AsyncAPI document's channels, row for row."""

from __future__ import annotations

import re

from chalicelib.api import asyncapi
from tests.conftest import ROOT

DESIGN = ROOT / "docs/design.md"
DEVICES = ("robot", "shelter")


def _topic_table() -> list[tuple[str, str, set[int]]]:
    text = DESIGN.read_text(encoding="utf-8")
    section = text.split("## 3. ", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+?) \| ([^|]+?) \|$", section, re.MULTILINE)
    assert rows, "design.md §3 has no topic table"
    return [
        (topic, direction, {int(q) for q in re.findall(r"\d", qos)})
        for topic, direction, qos in rows
    ]


def test_the_design_topic_table_is_the_asyncapi_channels() -> None:
    channels = asyncapi.document()["channels"]
    covered: set[str] = set()
    for topic, direction, qos in _topic_table():
        if topic.endswith("/..."):  # a family: the standard shadow topics
            mine = {n: c for n, c in channels.items() if c["address"].startswith(topic[:-3])}
        else:
            mine = {n: c for n, c in channels.items() if c["address"] == topic}
        assert mine, f"design.md §3 names {topic}, which the AsyncAPI document does not have"
        covered |= set(mine)
        directions = {c["x-direction"] for c in mine.values()}
        if direction.startswith("both"):
            assert any(d.startswith(DEVICES) for d in directions), topic
            assert any(d.endswith(DEVICES) for d in directions), topic
        else:
            assert directions == {direction}, (topic, direction, directions)
        for channel in mine.values():
            assert set(channel["x-qos"]) == qos, (topic, qos, channel["x-qos"])
    assert covered == set(channels), f"design.md §3 does not list {set(channels) - covered}"


def test_the_design_says_the_generated_documents_are_authoritative() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    section3 = text.split("## 3. ", 1)[1].split("\n## ", 1)[0]
    section4 = text.split("## 4. ", 1)[1].split("\n## ", 1)[0]
    assert "`GET /v1/asyncapi.json`" in section3 and "authoritative" in section3
    assert "`GET /v1/openapi.json`" in section4 and "authoritative" in section4
