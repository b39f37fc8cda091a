"""The operators' console in AWS: `console/` in a private bucket behind CloudFront, on the
same origin as the API (DESIGN §4e), so the page calls `/v1/...` with no CORS.

- `/console/*` (the default behaviour) comes from S3 through origin access control; a
  viewer-request function sends `/` to `/console/` and serves a folder's `index.html`;
- `/v1/*` goes to API Gateway uncached, with every viewer header but Host (API Gateway
  answers by its own host name), the Authorization header and query strings included;
- the console's responses carry the headers of `infra/console_site.py`, the one source the
  local stack serves as well, with the hosted login's origin (and the tile server's, when
  configured) added to the CSP, plus HSTS;
- `config.json` beside the files tells the page its stage and how staff sign in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.cdk.api import API_STAGE
from infra.cdk.stage import Stage
from infra.cdk.storage import private_bucket
from infra.console_site import CONSOLE_DIR, PATH_PREFIX, security_headers

API_PATHS = "/v1/*"
DOMAIN_CONTEXT = "console_domain"
CERTIFICATE_CONTEXT = "console_certificate_arn"
HSTS_MAX_AGE = cdk.Duration.days(365)

# `/` and `/console` to the console; a folder to its index.html (S3 has no folders).
VIEWER_REQUEST = f"""
function handler(event) {{
  var request = event.request;
  if (request.uri === "/" || request.uri === "{PATH_PREFIX.rstrip("/")}") {{
    return {{
      statusCode: 301,
      statusDescription: "Moved Permanently",
      headers: {{ location: {{ value: "{PATH_PREFIX}" }} }},
    }};
  }}
  if (request.uri.endsWith("/")) {{
    request.uri += "index.html";
  }}
  return request;
}}
"""


def header_policy(
    scope: Construct, stage: Stage, connect_src: list[str], img_src: list[str]
) -> cloudfront.ResponseHeadersPolicy:
    """`console_site.security_headers` as CloudFront's response headers, plus HSTS (the local
    stack serves plain HTTP on 127.0.0.1, so only here). CloudFront has a field for most of
    them; the rest go as custom headers."""
    headers = dict(security_headers(connect_src, img_src))
    referrer = headers.pop("Referrer-Policy").upper().replace("-", "_")
    frame = headers.pop("X-Frame-Options")
    if headers.pop("X-Content-Type-Options") != "nosniff":
        raise ValueError("CloudFront sends X-Content-Type-Options: nosniff and nothing else")
    security = cloudfront.ResponseSecurityHeadersBehavior(
        content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
            content_security_policy=headers.pop("Content-Security-Policy"), override=True
        ),
        frame_options=cloudfront.ResponseHeadersFrameOptions(
            frame_option=cloudfront.HeadersFrameOption[frame], override=True
        ),
        content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
        referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=cloudfront.HeadersReferrerPolicy[referrer], override=True
        ),
        strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
            access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
        ),
    )
    custom = [
        cloudfront.ResponseCustomHeader(header=name, value=value, override=True)
        for name, value in headers.items()
    ]
    return cloudfront.ResponseHeadersPolicy(
        scope,
        "Headers",
        comment=f"{stage.prefix} console: infra/console_site.py security_headers",
        security_headers_behavior=security,
        custom_headers_behavior=(
            cloudfront.ResponseCustomHeadersBehavior(custom_headers=custom) if custom else None
        ),
    )


def own_domain(scope: Construct, domain: str | None, certificate_arn: str | None) -> dict[str, Any]:
    """The distribution's settings for a host name of the city's own, if it has one."""
    if not domain and not certificate_arn:
        return {}
    if not (domain and certificate_arn):
        raise SystemExit(f"give both -c {DOMAIN_CONTEXT} and -c {CERTIFICATE_CONTEXT}")
    return {
        "domain_names": [domain],
        "certificate": acm.Certificate.from_certificate_arn(scope, "Certificate", certificate_arn),
        "minimum_protocol_version": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    }


class ConsoleSite(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        api_domain: str,
        login_url: str,
        tile_origin: str | None = None,
        domain: str | None = None,
        certificate_arn: str | None = None,
    ) -> None:
        """`domain` and `certificate_arn` (ACM, us-east-1) give the console its own host name,
        and with it TLS 1.2 at least: on CloudFront's own *.cloudfront.net certificate the
        viewer's TLS policy cannot be chosen."""
        super().__init__(scope, construct_id)
        if not (CONSOLE_DIR / "index.html").is_file():
            raise SystemExit(f"no console to deploy: {CONSOLE_DIR}/index.html is missing")
        self.bucket = private_bucket(
            self,
            "Bucket",
            # only the repository's files, removed with the stack (deploy() below)
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        headers = header_policy(
            self, stage, connect_src=[login_url], img_src=[tile_origin] if tile_origin else []
        )
        paths = cloudfront.Function(
            self,
            "Paths",
            code=cloudfront.FunctionCode.from_inline(VIEWER_REQUEST),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="/ to /console/; a folder to its index.html",
        )
        api = origins.HttpOrigin(
            api_domain,
            origin_path=f"/{API_STAGE}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{stage.prefix} operators' console and API",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=paths, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={
                API_PATHS: cloudfront.BehaviorOptions(
                    origin=api,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=(
                        cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
                    ),
                )
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_200,  # edges in Korea
            **own_domain(self, domain, certificate_arn),
        )
        host = domain or self.distribution.distribution_domain_name
        self.url = f"https://{host}{PATH_PREFIX}"

    def deploy(self, config: Mapping[str, object]) -> None:
        """`console/` as it is, and `config.json` beside it; then the cached copies go."""
        files = s3deploy.BucketDeployment(
            self,
            "Files",
            sources=[
                s3deploy.Source.asset(str(CONSOLE_DIR)),
                # Source.json_data would drop `"tiles": null` (jsii has no null); the
                # values filled in at deploy (ids, host names) need no JSON escaping.
                s3deploy.Source.data("config.json", json.dumps(dict(config))),
            ],
            destination_bucket=self.bucket,
            destination_key_prefix=PATH_PREFIX.strip("/"),
            # no build step, so no hashed names: browsers ask again (304 when unchanged)
            cache_control=[s3deploy.CacheControl.no_cache()],
            distribution=self.distribution,
            distribution_paths=[f"{PATH_PREFIX}*"],
            retain_on_delete=False,  # so the bucket is empty when the stack removes it
        )
        # CDK's own copying function depends on its role twice (W3005): nothing of ours.
        handler = files.handler_role.node.scope
        resource = handler.node.default_child if handler is not None else None
        if isinstance(resource, cdk.CfnResource):
            resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
