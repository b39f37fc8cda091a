"""infra/cdk/README.md's synth commands, run as written on a clean copy of the repository, as a
new user would: the pinned CDK CLI, the region as the README exports it, the templates where
the README says they are."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "infra" / "cdk" / "README.md"
NODE_MODULES = ROOT / "infra" / "node_modules"

# In the synth's worker: it shares Chalice's bundle cache with test_cdk's synth (one writer
# at a time), and two synths at once on a 2-core machine only slow each other.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("synth")]


def readme_synth_commands() -> str:
    """The README's code block that synthesizes: the commands the test runs, unedited."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if re.search(r"^npx cdk synth\b", b, re.M)]
    assert len(found) == 1, f"one block with `npx cdk synth` in {README}, found {len(found)}"
    return found[0]


def clean_copy(dest: Path) -> Path:
    """The repository as a clone of it holds it (its tracked files, none of the ignored ones),
    with the already installed .venv and CDK CLI linked in rather than installed again."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())
    (dest / "infra" / "node_modules").symlink_to(NODE_MODULES.resolve())
    # and Chalice's bundle cache (keyed by requirements.txt and the app's files, bytecode
    # included, the same in any folder): after test_cdk's synth the copy packs without
    # running `pip download` again
    cache = ROOT / ".chalice" / "deployments"
    cache.mkdir(parents=True, exist_ok=True)
    (dest / ".chalice" / "deployments").symlink_to(cache)
    return dest


def new_user_environment() -> dict[str, str]:
    """A shell with nothing of the test's own set-up: no region, no stage variables, no
    CDK_* or AWS credentials from elsewhere (synth needs none), no instance metadata to wait
    for, no version check, notice or telemetry sent by npm or the CDK CLI."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ["HOME"],  # jsii's unpacked aws-cdk-lib is cached there (~5 s)
        "LANG": "C.UTF-8",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_VERSION_CHECK": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "NPM_CONFIG_UPDATE_NOTIFIER": "false",
        # npm may not fetch anything: `npx cdk` must be the CLI pinned in infra/
        "NPM_CONFIG_OFFLINE": "true",
    }
    # How this machine reaches PyPI (Chalice's packager runs `pip download`), as the user's
    # shell would have it
    env.update(
        {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.endswith("_CA_BUNDLE")}
    )
    env.update(
        {
            k: os.environ[k]
            for k in ("SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy")
            if k in os.environ
        }
    )
    return env


def test_readme_synth_commands_work_as_written(tmp_path: Path) -> None:
    # GIVEN a clean copy of the repository, with the pinned CDK CLI installed (`./dev test`)
    if not (NODE_MODULES / ".bin" / "cdk").exists():
        pytest.fail("the pinned CDK CLI is not installed: run `./dev test` (or npm ci in infra/)")
    repo = clean_copy(tmp_path / "repo")
    commands = readme_synth_commands()
    # WHEN the README's synth block runs in a new shell at the repository's root
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands],
        cwd=repo,
        env=new_user_environment(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    took = time.monotonic() - started
    # THEN it succeeds, and the stage's template is where the README says: infra/cdk.out/
    assert done.returncode == 0, f"{commands}\nexit {done.returncode}:\n{done.stderr[-3000:]}"
    outdir = repo / "infra" / "cdk.out"
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert stacks == {"dev"}, "-c stage=dev synthesizes that stage alone"
    template = json.loads((outdir / "dev.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::DynamoDB::Table", "AWS::Serverless::Function", "AWS::IoT::TopicRule"} <= types
    # AND nothing was written beside it, where the app once ran (the repository's root)
    assert not (repo / "cdk.out").exists()
    print(f"README synth block: {took:.1f} s")
