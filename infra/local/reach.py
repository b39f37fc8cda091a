"""The emulator within reach: the shell lines that point boto3, the AWS CLI and anything else
built on botocore at the running local stack (`eval "$(python -m infra.local env)"`).

botocore reads `AWS_ENDPOINT_URL` for every service (since 1.31; the pinned one does, and
tests/e2e/test_local_reach_e2e.py proves it with nothing else set), the region from
`AWS_DEFAULT_REGION` (the CLI) or `AWS_REGION` (the SDKs), and the emulator takes any
credentials: dummy ones stop botocore from looking for real ones. A profile or a session
token from the developer's shell would mix a real account's settings in, so both are unset.
"""

from __future__ import annotations

import shlex
from typing import Any

DUMMY_KEY = "local"
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def environment(document: dict[str, Any]) -> dict[str, str]:
    """The variables, from the stack's stack.json."""
    region = str(document["region"])
    return {
        "AWS_ENDPOINT_URL": str(document["aws_endpoint_url"]),
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
    }


def shell_lines(document: dict[str, Any]) -> list[str]:
    """POSIX shell (bash, zsh, sh): `export` lines, then one `unset`."""
    lines = [f"export {name}={shlex.quote(value)}" for name, value in environment(document).items()]
    return [*lines, "unset " + " ".join(UNSET)]
