"""The operators' console as a site: where its files are and the headers it is served with.

One source for both hosts: the local stack's gateway serves `console/` at `/console/` with
these headers, and the CDK stack puts the same files in S3 behind CloudFront with a
response-headers policy built from the same function. The policy allows no inline script,
no eval and no framing; `connect_src` and `img_src` name the extra origins a deployment
needs (Cognito's domain for the token exchange, a map-tile server when one is configured).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
PATH_PREFIX = "/console/"


def content_security_policy(connect_src: Iterable[str] = (), img_src: Iterable[str] = ()) -> str:
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *img_src],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *connect_src],
        "manifest-src": ["'self'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(
    connect_src: Iterable[str] = (), img_src: Iterable[str] = ()
) -> dict[str, str]:
    """Every console response's security headers (CloudFront's policy sets the same)."""
    return {
        "Content-Security-Policy": content_security_policy(connect_src, img_src),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def console_config(stage: str, auth: dict[str, str], tiles: str | None = None) -> dict[str, object]:
    """The console's `config.json`: how to log in, the map tiles (none: outlines only) and
    what each staff power needs, from the one table the API enforces (domain/roles.py), so
    the console shows a person only what their roles allow."""
    from chalicelib.domain.roles import Power, roles_for

    return {
        "stage": stage,
        "auth": auth,
        "tiles": tiles,
        "powers": {power.value: list(roles_for(power)) for power in Power},
    }
