"""`GET /v1/docs`: the two contracts (the OpenAPI and the AsyncAPI documents) rendered as one
HTML page, from the documents as generated for this request.

No script, no remote resource: one inline style sheet, allowed by its hash in the page's
Content-Security-Policy (`CSP`). Every text taken from a document is escaped, so a summary or
an enum holding markup shows as text. Nothing of this module is imported at cold start.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

STYLE = """
body{font-family:system-ui,-apple-system,"Noto Sans KR","Malgun Gothic",sans-serif;
margin:0 auto;max-width:72rem;padding:1rem 2rem;line-height:1.45;color:#1b1f24}
h1{font-size:1.6rem}h2{border-bottom:2px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}
h3{font-size:1.1rem;margin:0}section.op{border:1px solid #d0d7de;border-radius:6px;
padding:.8rem 1rem;margin:1rem 0}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace}
.method{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{color:#0969da}.post{color:#1a7f37}.put{color:#9a6700}.delete{color:#cf222e}
.send{color:#1a7f37}.receive{color:#0969da}
table{border-collapse:collapse;width:100%;margin:.4rem 0 .8rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.muted{color:#57606a}.tag{font-size:.85em;background:#eaeef2;
border-radius:4px;padding:0 .3rem}nav ul{columns:2}pre{white-space:pre-wrap}
"""

CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
    + "'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""What the page needs and nothing more: its own style sheet."""

_MAX_DEPTH = 4
_CONSTRAINTS = (
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "pattern", "minItems", "maxItems", "maxProperties", "default",
)  # fmt: skip


class _Schemas:
    """Reads one document's schemas: follows its local `$ref`s."""

    def __init__(self, doc: dict[str, Any], prefix: str) -> None:
        self.doc = doc
        self.prefix = prefix

    def resolve(self, schema: Any) -> tuple[dict[str, Any], str | None]:
        """The schema a `$ref` points at (followed to the end), and the last name on the way."""
        name = None
        seen: set[str] = set()
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            if ref in seen or not ref.startswith("#/"):
                break
            seen.add(ref)
            name = ref.rsplit("/", 1)[-1]
            target: Any = self.doc
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
        return (schema if isinstance(schema, dict) else {}), name

    def anchor(self, name: str) -> str:
        return f"{self.prefix}-schema-{name}"

    def type_of(self, schema: Any) -> str:
        """A schema's type as HTML: names link to their schema, enums list their values."""
        if not isinstance(schema, dict):
            return "any" if schema is True or schema is None else escape(str(schema))
        if isinstance(schema.get("$ref"), str):
            _, name = self.resolve(schema)
            label = escape(name or schema["$ref"])
            return f'<a href="#{escape(self.anchor(name or ""))}">{label}</a>'
        for key, joiner in (("anyOf", " | "), ("oneOf", " | "), ("allOf", " &amp; ")):
            if isinstance(schema.get(key), list):
                return joiner.join(self.type_of(s) for s in schema[key])
        if "const" in schema:
            return f"<code>{escape(json.dumps(schema['const'], ensure_ascii=False))}</code>"
        if isinstance(schema.get("enum"), list):
            values = " | ".join(
                f"<code>{escape(json.dumps(v, ensure_ascii=False))}</code>" for v in schema["enum"]
            )
            return f"one of {values}"
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(escape(str(k)) for k in kind)
        if kind == "array":
            return f"array of {self.type_of(schema.get('items', True))}"
        if kind == "object" or "properties" in schema:
            extra = schema.get("additionalProperties")
            patterns = schema.get("patternProperties")
            if isinstance(patterns, dict) and patterns and not schema.get("properties"):
                key, value = next(iter(patterns.items()))
                return f"map (keys <code>{escape(key)}</code>) of {self.type_of(value)}"
            if isinstance(extra, dict) and not schema.get("properties"):
                return f"map of {self.type_of(extra)}"
            return "object"
        if isinstance(kind, str):
            fmt = schema.get("format")
            return escape(kind) + (f" ({escape(str(fmt))})" if fmt else "")
        return "any"

    def notes(self, schema: dict[str, Any]) -> str:
        parts = []
        if schema.get("description"):
            parts.append(escape(str(schema["description"])))
        for key in _CONSTRAINTS:
            if key in schema:
                value = json.dumps(schema[key], ensure_ascii=False)
                parts.append(
                    f'<span class="tag">{escape(key)}: <code>{escape(value)}</code></span>'
                )
        return " ".join(parts)

    def fields(self, schema: Any, path: str = "", depth: int = 0,
               seen: frozenset[str] = frozenset()) -> list[str]:  # fmt: skip
        """Table rows for an object's fields, nested objects' fields under dotted names."""
        resolved, name = self.resolve(schema)
        if name in seen or depth > _MAX_DEPTH:
            return []
        seen = seen | {name} if name else seen
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(resolved.get(key), list) and "properties" not in resolved:
                rows = []
                for part in resolved[key]:
                    rows += self.fields(part, path, depth + 1, seen)
                return rows
        if resolved.get("type") == "array" and path:
            return self.fields(resolved.get("items", {}), path + "[]", depth + 1, seen)
        properties = resolved.get("properties")
        if not isinstance(properties, dict):
            return []
        required = set(resolved.get("required") or ())
        rows = []
        for field, sub in properties.items():
            full = f"{path}.{field}" if path else str(field)
            sub = sub if isinstance(sub, dict) else {}
            target, _ = self.resolve(sub)
            rows.append(
                f"<tr><td><code>{escape(full)}</code></td><td>{self.type_of(sub)}</td>"
                f"<td>{'yes' if field in required else ''}</td>"
                f"<td>{self.notes({**target, **sub})}</td></tr>"
            )
            for branch in [sub, *[s for s in sub.get("anyOf", []) if isinstance(s, dict)]]:
                rows += self.fields(branch, full, depth + 1, seen)
        return rows

    def table(self, schema: Any) -> str:
        resolved, name = self.resolve(schema)
        branches = resolved.get("oneOf") or resolved.get("anyOf")
        if isinstance(branches, list) and "properties" not in resolved and len(branches) > 1:
            intro = f"<p>{self.type_of(schema)}"
            if resolved.get("description"):
                intro += f" — {escape(str(resolved['description']))}"
            return intro + "</p><p>One of:</p>" + "".join(self.table(b) for b in branches)
        rows = self.fields(schema)
        head = f"<p>{self.type_of(schema)}"
        if name is None and resolved.get("description"):
            head += f" — {escape(str(resolved['description']))}"
        head += "</p>"
        if not rows:
            return head
        return (
            head + "<table><tr><th>field</th><th>type</th><th>required</th><th>notes</th></tr>"
            + "".join(rows) + "</table>"
        )  # fmt: skip


def page(openapi: dict[str, Any], asyncapi: dict[str, Any]) -> str:
    http = _Schemas(openapi, "http")
    mqtt = _Schemas(asyncapi, "mqtt")
    operations = [
        (path, method, operation)
        for path, methods in sorted((openapi.get("paths") or {}).items())
        for method, operation in methods.items()
        if isinstance(operation, dict)
    ]
    channels = list((asyncapi.get("channels") or {}).items())
    out = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(_title(openapi))} — reference</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(_title(openapi))}: the HTTP and MQTT contracts</h1>",
        '<p class="muted">Generated from <a href="openapi.json">openapi.json</a> (OpenAPI '
        f'{escape(str(openapi.get("openapi", "")))}) and <a href="asyncapi.json">'
        f"asyncapi.json</a> (AsyncAPI {escape(str(asyncapi.get('asyncapi', '')))}) as "
        "this server serves them.</p>",
        '<nav><h2>Contents</h2><ul><li><a href="#http">HTTP operations</a></li>',
        '<li><a href="#mqtt">MQTT channels</a></li><li><a href="#http-schemas">HTTP schemas'
        '</a></li><li><a href="#mqtt-schemas">MQTT payload schemas</a></li></ul></nav>',
        '<h2 id="http">HTTP operations</h2>',
    ]
    out += [_operation(http, path, method, op) for path, method, op in operations]
    out.append('<h2 id="mqtt">MQTT channels</h2>')
    info = asyncapi.get("info") or {}
    if info.get("description"):
        out.append(f"<pre>{escape(str(info['description']))}</pre>")
    ops_by_channel: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for op_id, op in (asyncapi.get("operations") or {}).items():
        ref = str((op.get("channel") or {}).get("$ref", ""))
        ops_by_channel.setdefault(ref.rsplit("/", 1)[-1], []).append((op_id, op))
    out += [
        _channel(mqtt, name, channel, ops_by_channel.get(name, [])) for name, channel in channels
    ]
    out.append('<h2 id="http-schemas">HTTP schemas</h2>')
    out += _components(http, (openapi.get("components") or {}).get("schemas") or {})
    out.append('<h2 id="mqtt-schemas">MQTT payload schemas</h2>')
    out += _components(mqtt, (asyncapi.get("components") or {}).get("schemas") or {})
    out.append("</body></html>\n")
    return "\n".join(out)


def _title(openapi: dict[str, Any]) -> str:
    return str((openapi.get("info") or {}).get("title") or "API")


def _operation(http: _Schemas, path: str, method: str, op: dict[str, Any]) -> str:
    op_id = str(op.get("operationId") or f"{method} {path}")
    who = "token" if op.get("security") else "anyone"
    parts = [
        f'<section class="op" id="op-{escape(op_id)}"><h3><span class="method '
        f'{escape(method)}">{escape(method)}</span> <code>{escape(path)}</code></h3>',
        f'<p>{escape(str(op.get("summary") or ""))} <span class="tag">{who}</span> '
        f'<span class="muted mono">{escape(op_id)}</span></p>',
    ]
    parameters = [p for p in op.get("parameters") or () if isinstance(p, dict)]
    if parameters:
        parts.append(
            "<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th>"
            "<th>notes</th></tr>"
        )
        for p in parameters:
            schema = p.get("schema") or {}
            described = {
                **schema,
                **({"description": p["description"]} if p.get("description") else {}),
            }
            parts.append(
                f"<tr><td><code>{escape(str(p.get('name')))}</code></td>"
                f"<td>{escape(str(p.get('in')))}</td><td>{http.type_of(schema)}</td>"
                f"<td>{'yes' if p.get('required') else ''}</td>"
                f"<td>{http.notes(described)}</td></tr>"
            )
        parts.append("</table>")
    body = op.get("requestBody") or {}
    for media, content in (body.get("content") or {}).items():
        parts.append(f"<h4>Request body <code>{escape(media)}</code></h4>")
        parts.append(http.table(content.get("schema") or {}))
    parts.append("<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>body</th></tr>")
    for status, response in (op.get("responses") or {}).items():
        response = response if isinstance(response, dict) else {}
        bodies = []
        for media, content in (response.get("content") or {}).items():
            schema = (content or {}).get("schema")
            shown = http.type_of(schema) if schema else "no schema"
            bodies.append(f"<code>{escape(media)}</code>: {shown}")
        parts.append(
            f"<tr><td>{escape(str(status))}</td><td>{escape(str(response.get('description', '')))}"
            f"</td><td>{'<br>'.join(bodies)}</td></tr>"
        )
    parts.append("</table>")
    for status, response in (op.get("responses") or {}).items():
        if not str(status).startswith("2") or not isinstance(response, dict):
            continue
        for media, content in (response.get("content") or {}).items():
            schema = (content or {}).get("schema")
            if schema and "json" in media:
                parts.append(f"<h4>{escape(str(status))} body</h4>")
                parts.append(http.table(schema))
    parts.append("</section>")
    return "\n".join(parts)


def _channel(
    mqtt: _Schemas, name: str, channel: dict[str, Any], ops: list[tuple[str, dict[str, Any]]]
) -> str:
    qos = " or ".join(str(q) for q in channel.get("x-qos") or ())
    parts = [
        f'<section class="op" id="channel-{escape(name)}"><h3><code>'
        f"{escape(str(channel.get('address', '')))}</code></h3>",
        f"<p>{escape(str(channel.get('summary') or ''))}</p>",
        f"<p>direction <strong>{escape(str(channel.get('x-direction', '')))}</strong>; QoS "
        f'<strong>{escape(qos)}</strong>; <span class="muted mono">{escape(name)}</span></p>',
    ]
    for op_id, op in ops:
        action = str(op.get("action", ""))
        op_qos = ((op.get("bindings") or {}).get("mqtt") or {}).get("qos")
        parts.append(
            f'<p>device operation <span class="{escape(action)}"><strong>{escape(action)}'
            f'</strong></span> <span class="muted mono">{escape(op_id)}</span> (QoS '
            f"{escape(str(op_qos))}): {escape(str(op.get('summary') or ''))}</p>"
        )
    parameters = channel.get("parameters") or {}
    if parameters:
        parts.append("<table><tr><th>parameter</th><th>notes</th></tr>")
        for pname, spec in parameters.items():
            spec = spec if isinstance(spec, dict) else {}
            parts.append(
                f"<tr><td><code>{{{escape(str(pname))}}}</code></td><td>"
                f"{mqtt.notes(spec)}</td></tr>"
            )
        parts.append("</table>")
    for message_name, ref in (channel.get("messages") or {}).items():
        message, _ = mqtt.resolve(ref)
        parts.append(
            f"<h4>Message <code>{escape(str(message_name))}</code></h4>"
            f"<p>{escape(str(message.get('summary') or ''))}</p>"
        )
        parts.append(mqtt.table(message.get("payload") or {}))
    parts.append("</section>")
    return "\n".join(parts)


def _components(schemas: _Schemas, components: dict[str, Any]) -> list[str]:
    out = []
    for name, schema in sorted(components.items()):
        out.append(
            f'<section class="op" id="{escape(schemas.anchor(name))}"><h3>{escape(name)}</h3>'
            + schemas.table(schema)
            + "</section>"
        )
    return out
