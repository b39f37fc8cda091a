"""The operators' console as a site: where its files are and the headers it is served with.

One source for both hosts: the local stack's gateway serves `console/` at `/console/` with
these headers, and the CDK stack puts the same files in S3 behind CloudFront with a
response-headers policy built from the same function. The policy allows no inline script,
no eval and no framing; `connect_src` and `img_src` name the extra origins a deployment
needs (Cognito's domain for the token exchange, a map-tile server when one is configured).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

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


def tile_origin(template: str) -> str:
    """The origin a map-tile URL template loads from, as a CSP source: Leaflet's `{s}`
    subdomain placeholder becomes a wildcard (`https://{s}.tile.example/{z}/{x}/{y}.png`
    -> `https://*.tile.example`)."""
    url = urlsplit(template)
    if url.scheme != "https" or not url.netloc:
        raise ValueError(f"a tile URL template is an https URL: {template!r}")
    return f"https://{url.netloc.replace('{s}', '*')}"


def site_config(
    stage: str, auth: Mapping[str, str], tiles: str | None = None, attribution: str = ""
) -> dict[str, object]:
    """`/console/config.json`: the stage, how staff sign in (`{"mode": "dev"}` locally;
    `{"mode": "cognito", "domain", "client_id", "redirect_uri"}` in AWS), the map tiles
    (null unless a tile URL template is configured) and what each staff power needs, from
    the one table the API enforces (domain/roles.py), so the console shows a person only
    what their roles allow."""
    from chalicelib.domain.roles import Power, roles_for

    return {
        "stage": stage,
        "auth": dict(auth),
        "tiles": {"url": tiles, "attribution": attribution} if tiles else None,
        "powers": {power.value: list(roles_for(power)) for power in Power},
    }
