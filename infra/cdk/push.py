"""Push to phones (DESIGN §4c): the SNS platform applications are the deployer's to make, with
FCM's and APNs' credentials, which cannot live in the repository; their ARNs come in as
context, `-c push_fcm_application_arn=arn:aws:sns:...:app/GCM/<name>` and
`-c push_apns_application_arn=arn:aws:sns:...:app/APNS/<name>`. With neither, push is off
(tokens are still registered, notifications still reach the inbox), and the stack says so
in its `Push` output."""

from __future__ import annotations

from constructs import Construct

from chalicelib import config

CONTEXT = {
    "fcm": "push_fcm_application_arn",
    "apns": "push_apns_application_arn",
}
VARIABLES = {
    "fcm": config.PUSH_FCM_APPLICATION_ARN,
    "apns": config.PUSH_APNS_APPLICATION_ARN,
}


def push_applications(scope: Construct) -> dict[str, str]:
    """The configured platform applications by platform (none: push is off)."""
    found = {}
    for platform, key in CONTEXT.items():
        value = scope.node.try_get_context(key)
        if value:
            if not str(value).startswith("arn:") or ":app/" not in str(value):
                raise ValueError(f"-c {key}: an SNS platform application ARN (…:app/…)")
            found[platform] = str(value)
    return found


def push_summary(applications: dict[str, str]) -> str:
    if not applications:
        return "off: give -c push_fcm_application_arn=... and/or -c push_apns_application_arn=..."
    return "on: " + ", ".join(sorted(applications))
