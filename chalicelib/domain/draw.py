"""The lottery draw of a challenge's prize and its verifier (the command anyone can run to
check a published draw is tools/verify_draw.py).

Standard library only, on purpose: a citizen or a journalist can copy this file with
tools/verify_draw.py and recompute a draw without installing the city's code.

The algorithm (docs/challenges.md):
1. At creation the city draws a secret 32-byte seed and publishes only
   `commitment = SHA-256(seed)` (hex). The seed cannot be changed afterwards unnoticed.
2. After the end, each finisher is named by a per-challenge pseudonym (`p` and 32 hex
   digits: an HMAC of the challenge and citizen ids under a key only the city holds, so
   no citizen id is published, and one citizen's pseudonyms in two challenges cannot be
   linked). A citizen sees their own in the challenge's detail. The pseudonyms are sorted
   by Unicode code point and published with
   `finisher_digest = SHA-256(p_1 + "\\n" + p_2 + "\\n" + ... + p_n + "\\n")`
   (UTF-8; each followed by a newline; the digest of no finishers is SHA-256 of "").
3. Each finisher gets the ticket `HMAC-SHA256(key=seed, message=pseudonym in UTF-8)`;
   finishers are ordered by ticket (hex), ties (never seen in practice) by pseudonym, and
   the first `winner_count` are the winners, in that order.

A draw made before pseudonyms (`scheme` other than `pseudonyms-v1`) named citizen ids;
its lists are withheld (`finishers` null, `withheld` says why): only its seed can still be
checked against the commitment, and the verifier says so (exit status 2).

Nobody can steer the outcome: the seed was fixed (committed) before anyone finished, and
the finisher list is fixed before the seed is revealed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

SEED_BYTES = 32


def commitment(seed: bytes) -> str:
    """What the city publishes at creation: the seed's SHA-256, hex."""
    return hashlib.sha256(seed).hexdigest()


def sorted_finishers(finishers: Sequence[str]) -> list[str]:
    """The canonical order: distinct pseudonyms by Unicode code point."""
    return sorted(set(finishers))


def finisher_digest(finishers: Sequence[str]) -> str:
    """SHA-256 of the sorted pseudonyms, each followed by a newline, UTF-8."""
    text = "".join(f"{finisher}\n" for finisher in sorted_finishers(finishers))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ticket(seed: bytes, finisher: str) -> str:
    return hmac.new(seed, finisher.encode("utf-8"), hashlib.sha256).hexdigest()


def winners(seed: bytes, finishers: Sequence[str], count: int) -> list[str]:
    """The first `count` finishers by ticket: a deterministic function of the seed and the
    finisher set (the order they are given in does not matter)."""
    ranked = sorted(sorted_finishers(finishers), key=lambda c: (ticket(seed, c), c))
    return ranked[: max(count, 0)]


def withheld(published: dict[str, Any]) -> bool:
    """A draw made before pseudonyms: its lists are not published, only its seed is."""
    return published.get("finishers") is None and bool(published.get("withheld"))


def verify(published: dict[str, Any]) -> list[str]:
    """What is wrong with a published draw (empty: it checks out, or for a withheld draw:
    its seed matches the commitment)."""
    problems: list[str] = []
    seed_hex = published.get("seed")
    if not isinstance(seed_hex, str):
        return ["the seed is not revealed yet (no draw)"]
    try:
        seed = bytes.fromhex(seed_hex)
    except ValueError:
        return ["the seed is not hexadecimal"]
    if commitment(seed) != published.get("commitment"):
        problems.append("the seed does not match the commitment published at creation")
    if withheld(published):
        return problems
    finishers = published.get("finishers")
    if not isinstance(finishers, list) or not all(isinstance(f, str) for f in finishers):
        return [*problems, "the finisher list is missing"]
    if finishers != sorted_finishers(finishers):
        problems.append("the finisher list is not sorted and distinct")
    if finisher_digest(finishers) != published.get("finisher_digest"):
        problems.append("the finisher digest does not match the finisher list")
    published_winners = published.get("winners")
    count = published.get("winner_count")
    if not isinstance(count, int):
        count = len(published_winners) if isinstance(published_winners, list) else 0
    expected = winners(seed, finishers, count)
    if published_winners != expected:
        problems.append(f"the winners should be {expected}, not {published_winners}")
    return problems
