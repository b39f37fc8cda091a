"""The lottery draw: reproducible from the published seed and finishers, independent of the
order finishers are listed in, and any tampering with the seed, the finishers or the
winners fails the verifier (which runs on the standard library alone)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import draw
from tests.conftest import ROOT
from tools import verify_draw

ids = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    unique=True,
    max_size=30,
)
seeds = st.binary(min_size=32, max_size=32)


def _published(seed: bytes, finishers: list[str], count: int) -> dict[str, Any]:
    ordered = draw.sorted_finishers(finishers)
    return {
        "challenge_id": "chl-1",
        "commitment": draw.commitment(seed),
        "seed": seed.hex(),
        "finishers": ordered,
        "finisher_digest": draw.finisher_digest(ordered),
        "winners": draw.winners(seed, ordered, count),
        "winner_count": count,
    }


@given(seeds, ids, st.integers(0, 40), st.randoms())
def test_the_winners_depend_only_on_the_seed_and_the_finisher_set(
    seed: bytes, finishers: list[str], count: int, rng: Any
) -> None:
    shuffled = list(finishers)
    rng.shuffle(shuffled)
    chosen = draw.winners(seed, finishers, count)
    assert chosen == draw.winners(seed, shuffled + shuffled[:3], count)
    assert len(chosen) == min(count, len(finishers))
    assert len(set(chosen)) == len(chosen) and set(chosen) <= set(finishers)
    assert draw.verify(_published(seed, shuffled, count)) == []


@given(seeds, ids, st.integers(1, 5), seeds)
def test_a_different_seed_fails_the_commitment(
    seed: bytes, finishers: list[str], count: int, other: bytes
) -> None:
    published = _published(seed, finishers, count)
    if other != seed:
        forged = dict(published, seed=other.hex())
        assert any("commitment" in p for p in draw.verify(forged))


@given(seeds, ids.filter(lambda f: len(f) >= 2), st.integers(1, 5))
def test_a_tampered_finisher_list_or_winner_list_fails(
    seed: bytes, finishers: list[str], count: int
) -> None:
    published = _published(seed, finishers, count)
    dropped = dict(published, finishers=published["finishers"][1:])
    assert any("digest" in p for p in draw.verify(dropped))
    added = draw.sorted_finishers([*published["finishers"], "\uc2ac\uc9c0-zz"])
    if added != published["finishers"]:
        # A finisher slipped in after the digest was published is caught.
        forged = dict(published, finishers=added)
        assert any("digest" in p for p in draw.verify(forged))
    losers = [f for f in published["finishers"] if f not in published["winners"]]
    if losers:
        swapped = dict(published, winners=[losers[0], *published["winners"][1:]])
        assert any("winners" in p for p in draw.verify(swapped))


def test_the_digest_and_tickets_are_the_documented_functions() -> None:
    import hashlib
    import hmac

    seed = bytes(range(32))
    assert draw.finisher_digest(["b", "a"]) == hashlib.sha256(b"a\nb\n").hexdigest()
    assert draw.finisher_digest([]) == hashlib.sha256(b"").hexdigest()
    assert draw.ticket(seed, "민수") == hmac.new(seed, "민수".encode(), "sha256").hexdigest()
    assert draw.commitment(seed) == hashlib.sha256(seed).hexdigest()


def test_an_undrawn_or_garbled_document_is_refused() -> None:
    assert draw.verify({"seed": None}) == ["the seed is not revealed yet (no draw)"]
    assert draw.verify({"seed": "zz"}) == ["the seed is not hexadecimal"]
    assert draw.verify({"seed": "00" * 32, "finishers": "x"})


def test_the_cli_reads_a_saved_file_and_an_api(tmp_path: Path) -> None:
    seed = b"\x07" * 32
    published = _published(seed, ["c-3", "c-1", "c-2"], 2)
    saved = tmp_path / "draw.json"
    saved.write_text(json.dumps(published))
    assert verify_draw.main(["chl-1", "--file", str(saved)]) == 0
    assert verify_draw.main(["chl-other", "--file", str(saved)]) == 1

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(published).encode()
            ok = self.path == "/v1/challenges/chl-1/draw"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        # As a citizen runs it: a fresh interpreter, the module as a script.
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.verify_draw",
                "chl-1",
                "--api-url",
                url,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.startswith("OK: chl-1")
    finally:
        server.shutdown()
        server.server_close()


def test_the_verifier_imports_only_the_standard_library() -> None:
    source = (ROOT / "chalicelib" / "domain" / "draw.py").read_text()
    imported = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from ")) and "__future__" not in line
    }
    assert imported <= set(sys.stdlib_module_names), imported


def test_the_verifying_command_imports_the_standard_library_and_the_algorithm_alone() -> None:
    source = (ROOT / "tools" / "verify_draw.py").read_text()
    imported = {
        line.split()[1]
        for line in source.splitlines()
        if line.startswith(("import ", "from ")) and "__future__" not in line
    }
    ours = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    assert ours == {"chalicelib.domain"}, ours
    assert "from chalicelib.domain import draw\n" in source


# Pseudonyms (the draw never names a citizen id) ---------------------------------------------


def test_a_draw_made_before_pseudonyms_checks_its_seed_and_says_its_lists_are_withheld(
    tmp_path: Path,
) -> None:
    seed = b"\x05" * 32
    published = {
        "challenge_id": "chl-old",
        "commitment": draw.commitment(seed),
        "seed": seed.hex(),
        "finishers": None,
        "winners": None,
        "finisher_digest": "ab" * 32,
        "winner_count": 1,
        "withheld": "drawn before per-challenge pseudonyms",
    }
    assert draw.verify(published) == []
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(published))
    assert verify_draw.main(["chl-old", "--file", str(saved)]) == 2
    saved.write_text(json.dumps(dict(published, seed=(b"\x06" * 32).hex())))
    assert verify_draw.main(["chl-old", "--file", str(saved)]) == 1


keys = st.binary(min_size=32, max_size=32)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@settings(deadline=None)
@given(keys, names, names, names)
def test_a_pseudonym_is_stable_per_challenge_and_unlinkable_across_them(
    key: bytes, citizen: str, first: str, second: str
) -> None:
    from chalicelib.domain.challenges import draw_pseudonym

    mine = draw_pseudonym(key, first, citizen)
    assert mine == draw_pseudonym(key, first, citizen)
    assert re.fullmatch("p[0-9a-f]{32}", mine)  # nothing of the id shows through
    if first != second:
        assert draw_pseudonym(key, second, citizen) != mine
    assert draw_pseudonym(bytes(32) if key != bytes(32) else b"\x01" * 32, first, citizen) != mine


def test_a_pseudonym_cannot_be_read_as_another_challenge_and_citizen() -> None:
    from chalicelib.domain.challenges import draw_pseudonym

    key = b"\x09" * 32
    assert draw_pseudonym(key, "chl-ab", "c") != draw_pseudonym(key, "chl-a", "bc")
