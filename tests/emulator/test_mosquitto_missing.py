"""`python -m infra.local up` without mosquitto: one line saying what to install, non-zero."""

from __future__ import annotations

import signal

import pytest

from infra.local import __main__ as cli
from infra.local import broker
from infra.local.errors import MosquittoNotFoundError
from infra.local.stack import free_port


@pytest.fixture
def no_mosquitto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker.shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setattr(broker, "MOSQUITTO_FALLBACKS", ("/nonexistent/sbin/mosquitto",))


def test_find_mosquitto_says_what_to_install(no_mosquitto: None) -> None:
    with pytest.raises(MosquittoNotFoundError, match=r"sudo apt-get install -y mosquitto"):
        broker.find_mosquitto()


def test_up_prints_one_line_and_fails(
    no_mosquitto: None, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # keep pytest's own handlers
    argv = ["up", "--state-dir", str(tmp_path / "state")]
    for option in ("--api-port", "--aws-port", "--mqtt-port"):
        argv += [option, str(free_port())]

    code = cli.main(argv)

    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "mosquitto" in lines[0] and "sudo apt-get install -y mosquitto" in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "state").exists()  # it stopped before starting anything
