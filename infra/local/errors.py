"""Errors shared by the parts of the local stack."""

from __future__ import annotations


class PortInUseError(RuntimeError):
    """A loopback port the local stack needs is already taken."""

    def __init__(self, port: int, what: str = "service", option: str | None = None) -> None:
        self.port = port
        self.what = what
        self.option = option
        hint = f"; stop what holds it or pass {option}" if option else "; stop what holds it"
        super().__init__(f"port {port} ({what}) is already in use on 127.0.0.1{hint}")


class MosquittoNotFoundError(RuntimeError):
    """The mosquitto binary (the local MQTT broker) is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "mosquitto (the local MQTT broker) is not installed;"
            " install it with: sudo apt-get install -y mosquitto"
        )
