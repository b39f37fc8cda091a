"""The console's config.json and its map tiles' CSP source (infra/console_site.py): what the
page is told about its stage, its sign-in and its tiles, locally and in AWS alike."""

from __future__ import annotations

import pytest

from infra.console_site import content_security_policy, site_config, tile_origin


def test_without_tiles_the_page_is_told_none() -> None:
    config = site_config("local", {"mode": "dev"})
    assert {k: config[k] for k in ("stage", "auth", "tiles")} == {
        "stage": "local",
        "auth": {"mode": "dev"},
        "tiles": None,
    }


def test_a_tile_template_reaches_the_page_and_its_host_the_csp() -> None:
    template = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    config = site_config("prod", {"mode": "cognito"}, tiles=template, attribution="© Example")
    assert config["tiles"] == {"url": template, "attribution": "© Example"}
    assert tile_origin(template) == "https://*.tile.example.org"
    assert "img-src 'self' data: https://*.tile.example.org;" in content_security_policy(
        img_src=[tile_origin(template)]
    )
    assert tile_origin("https://tiles.city.kr:8443/{z}/{x}/{y}.png") == "https://tiles.city.kr:8443"


@pytest.mark.parametrize("template", ["http://tile.example.org/{z}/{x}/{y}.png", "/tiles/{z}"])
def test_tiles_come_over_https_only(template: str) -> None:
    with pytest.raises(ValueError, match="https"):
        tile_origin(template)
