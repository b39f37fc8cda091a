"""Ports more than one service uses, typed in plain values."""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.operations import QuarantineSource


class Quarantine(Protocol):
    def quarantine(
        self,
        *,
        source: QuarantineSource,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
        original: str | None = None,
    ) -> None:
        """`original` is the queue message as it arrived, for reprocessing: a store keeps
        it only sealed (never in clear), and only for a source that can be replayed."""
        ...


class ServiceFigures(Protocol):
    """Which live services the KPI store holds figures for (the project registry's omission
    check, DESIGN §4d): a live service without figures is flagged on its projects."""

    def measured_services(self) -> frozenset[str]: ...
