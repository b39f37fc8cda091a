"""Check a challenge's prize draw from its published document: the command a citizen or a
journalist runs. The algorithm is chalicelib/domain/draw.py; this file only fetches the
document (the API's GET /v1/challenges/{id}/draw, or a saved copy) and reports. Standard
library only, like the algorithm: the two files are all a checker needs.

    python -m tools.verify_draw <challenge-id> [--api-url URL | --file F]

Exit status 0: the draw checks out; 1: it does not; 2: a draw made before pseudonyms, whose
seed matches its commitment but whose lists are withheld.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.domain import draw


def _default_api_url() -> str:
    stack = Path(".local") / "stack.json"
    try:
        return str(json.loads(stack.read_text(encoding="utf-8"))["api_url"])
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"no --api-url given and no api_url in {stack}: {e}") from e


def _fetch(api_url: str, challenge_id: str) -> dict[str, Any]:
    from urllib.parse import quote

    url = f"{api_url.rstrip('/')}/v1/challenges/{quote(challenge_id, safe='')}/draw"
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{url}: HTTP {e.code} {e.read()[:300]!r}") from e


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.verify_draw", description="Recompute a challenge's published draw."
    )
    parser.add_argument("challenge_id")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--api-url", help="the API (default: api_url in .local/stack.json)")
    source.add_argument("--file", type=Path, help="a saved GET /v1/challenges/{id}/draw")
    args = parser.parse_args(argv)
    if args.file is not None:
        published = json.loads(args.file.read_text(encoding="utf-8"))
    else:
        published = _fetch(args.api_url or _default_api_url(), args.challenge_id)
    if published.get("challenge_id") != args.challenge_id:
        print(f"FAIL: the draw is of {published.get('challenge_id')!r}, not {args.challenge_id!r}")
        return 1
    problems = draw.verify(published)
    if problems:
        for problem in problems:
            print(f"FAIL: {problem}")
        return 1
    if draw.withheld(published):
        print(
            f"PARTIAL: {args.challenge_id}: seed matches commitment "
            f"{published['commitment'][:16]}...; the finisher list is withheld "
            f"({published['withheld']})"
        )
        return 2
    print(
        f"OK: {args.challenge_id}: seed matches commitment {published['commitment'][:16]}..., "
        f"{len(published['finishers'])} finishers (digest {published['finisher_digest'][:16]}...),"
        f" winners {published['winners']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
