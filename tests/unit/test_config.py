"""Configuration: `Settings` is the one reader of the environment, its defaults are written
once, and `.chalice/config.json` sets only what differs from them."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib import config
from chalicelib.config import Settings
from infra.stage import STAGES, StageConfig, stage_environment

PLATFORM_PREFIXES = ("POWERTOOLS_", "PYDANTIC_")
"""Variables read by libraries (Powertools, pydantic), not by the app."""


def _sample(value: object) -> str:
    if isinstance(value, int):
        return "12345"
    if isinstance(value, dict):
        return '{"sends_per_citizen_hour": 3}'
    return "a-value"


def test_unset_variables_give_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_an_empty_variable_counts_as_unset() -> None:
    empty = {f.name.upper(): "" for f in dataclasses.fields(Settings)}
    assert Settings.from_env(empty) == Settings()


@pytest.mark.parametrize("field", dataclasses.fields(Settings), ids=lambda f: f.name)
def test_each_setting_is_read_from_the_variable_named_after_it(
    field: dataclasses.Field[object],
) -> None:
    variable = field.name.upper()
    assert getattr(config, variable) == variable  # its name is a constant of chalicelib.config
    read = Settings.from_env({variable: _sample(getattr(Settings(), field.name))})
    assert getattr(read, field.name) != getattr(Settings(), field.name)


def test_the_process_readers_share_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (config.RESOURCE_PREFIX, config.AWS_REGION, config.AWS_DEFAULT_REGION):
        monkeypatch.delenv(variable, raising=False)
    assert config.resource_prefix() == Settings().resource_prefix
    assert config.region() == config.DEFAULT_REGION
    monkeypatch.setenv(config.AWS_DEFAULT_REGION, "us-east-1")
    assert config.region() == "us-east-1"
    monkeypatch.setenv(config.AWS_REGION, "eu-west-1")  # Lambda's own variable wins
    assert config.region() == "eu-west-1"


def test_the_stage_config_sets_no_default_and_nothing_unread() -> None:
    """A variable in .chalice/config.json is one the app reads (or a library's), and some
    stage sets it to something other than its default: a default is written in Settings
    alone, so the two cannot drift apart."""
    environments = {name: stage_environment(name) for name in STAGES}
    variables = {v for env in environments.values() for v in env}
    for variable in sorted(variables):
        if variable.startswith(PLATFORM_PREFIXES):
            continue
        changes = [
            name
            for name, env in environments.items()
            if variable in env and Settings.from_env({variable: env[variable]}) != Settings()
        ]
        assert changes, f"{variable}: not a setting, or its default written again"


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_reads_as_the_app_would(name: str) -> None:
    stage = StageConfig.load(name)
    assert stage.settings == Settings.from_env(stage.env)
    assert stage.settings.stage == name
    assert stage.prefix == f"gimhae-{name}"
    assert stage.phone_hash_key_parameter == f"/gimhae/{name}/phone-hash-key"
    assert stage.env["POWERTOOLS_SERVICE_NAME"] == "gimhae-smart-city"  # the app's, merged


def test_phone_proof_rules_must_be_a_json_object() -> None:
    with pytest.raises(ValueError, match=config.PHONE_PROOF_RULES):
        Settings.from_env({config.PHONE_PROOF_RULES: "[1, 2]"})
