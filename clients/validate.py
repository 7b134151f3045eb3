"""Checks recorded HTTP exchanges against blogd's OpenAPI document.

Usage: python validate.py DOCUMENT.json [EXCHANGES.jsonl ...]
(with the document alone: only openapi-spec-validator)

Each line of an exchanges file is one request and its answer, as the client flows record them:
{"flow", "method", "url", "request_headers", "request_body", "status", "headers", "body"}
(bodies as text; "body_base64" instead of "body" for binary answers).

For every exchange: the operation is in the document; the status is documented for it; the
response's content type, body and declared headers validate (openapi-core); every header the
server sent that a client could act on is declared for that status; headers declared as required
are present. The document itself must pass openapi-spec-validator first. Exits 1 on any problem,
listing each one.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import OpenAPIV31SpecValidator
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

# Headers that carry no API meaning for a client (transport, caching proxies, and the security
# headers every response carries, which API.md lists once for all). Everything else the server
# sends must be declared in the document.
TRANSPORT_HEADERS = {
    "content-type",
    "content-length",
    "date",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-encoding",
    "vary",
    "content-security-policy",
    "strict-transport-security",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
}


def resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def text(body: bytes) -> str:
    return body.decode("utf-8")


# XML and text answers are documented as strings (what generators can use); openapi-core would
# parse XML into elements first. Here they stay text, and XML must still be well-formed.
def xml_text(body: bytes) -> str:
    import xml.etree.ElementTree as ElementTree

    ElementTree.fromstring(body)
    return body.decode("utf-8")


def strict(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document in which objects admit no undocumented properties: every use of
    an object schema (a `$ref` outside `allOf`, or an inline object) gets
    `unevaluatedProperties: false`, so an answer with a property the document does not name
    fails. (`allOf` members are left open: their composition is closed where it is used.)
    The original document is what openapi-spec-validator checks; this copy only validates."""
    copy: dict[str, Any] = json.loads(json.dumps(doc))
    schemas = copy.get("components", {}).get("schemas", {})

    def is_object(node: dict[str, Any]) -> bool:
        target = resolve(copy, node)
        return isinstance(target, dict) and (
            "properties" in target or "allOf" in target
        ) and "additionalProperties" not in target

    def close(node: Any, in_all_of: bool = False) -> None:
        if isinstance(node, dict):
            if not in_all_of and is_object(node) and "unevaluatedProperties" not in node:
                if "$ref" in node:
                    # openapi-core follows a top-level $ref without its siblings: wrap it.
                    ref = node.pop("$ref")
                    node["allOf"] = [{"$ref": ref}]
                node["unevaluatedProperties"] = False
            for key, value in list(node.items()):
                if key == "allOf" and isinstance(value, list):
                    for member in value:
                        close(member, in_all_of=True)
                elif key not in ("unevaluatedProperties",):
                    close(value)
        elif isinstance(node, list):
            for item in node:
                close(item)

    for schema in schemas.values():
        # A component is closed where it is used, not in its definition (it may be an allOf
        # member elsewhere); its own properties' schemas are uses.
        for key, value in schema.items():
            if key == "allOf" and isinstance(value, list):
                for member in value:
                    close(member, in_all_of=True)
            else:
                close(value)
    close(copy.get("paths", {}))
    return copy


def template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{pattern}$")


class Checker:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        config = Config(
            extra_media_type_deserializers={
                "application/xml": xml_text,
                "application/rss+xml": xml_text,
                "text/plain": text,
                "text/html": text,
            }
        )
        self.openapi = OpenAPI.from_dict(strict(doc), config=config)
        # Concrete paths before templated ones (`/api/v1/auth/me` before `/api/v1/auth/{x}`).
        self.templates = sorted(
            ((template_regex(p), p) for p in doc["paths"]),
            key=lambda t: t[1].count("{"),
        )
        self.problems: list[str] = []
        self.seen: Counter[str] = Counter()

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for regex, template in self.templates:
            if regex.match(path):
                op = self.doc["paths"][template].get(method.lower())
                if op is not None:
                    return template, op
        return None

    def check(self, ex: dict[str, Any]) -> None:
        url = urlsplit(ex["url"])
        label = f"[{ex.get('flow', '?')}] {ex['method']} {url.path} → {ex['status']}"
        found = self.operation(ex["method"], url.path)
        if found is None:
            self.problems.append(f"{label}: no such operation in the document")
            return
        template, op = found
        self.seen[f"{op['operationId']} {ex['status']}"] += 1
        status = str(ex["status"])
        documented = op["responses"].get(status) or op["responses"].get(f"{status[0]}XX")
        if documented is None:
            documented = op["responses"].get("default")
        if documented is None:
            self.problems.append(f"{label}: status {status} is not documented for {op['operationId']}")
            return
        documented = resolve(self.doc, documented)
        declared = {name.lower(): resolve(self.doc, h) for name, h in documented.get("headers", {}).items()}
        sent = {k.lower(): v for k, v in ex["headers"].items()}
        for name in sent:
            if name not in TRANSPORT_HEADERS and name not in declared:
                self.problems.append(f"{label}: header {name} is sent but not declared")
        for name, header in declared.items():
            if header.get("required") and name not in sent:
                self.problems.append(f"{label}: required header {name} is missing")

        request_headers = dict(ex.get("request_headers") or {})
        body = ex.get("request_body")
        builder = EnvironBuilder(
            method=ex["method"],
            base_url=f"{url.scheme}://{url.netloc}",
            path=url.path,
            query_string=url.query,
            headers=request_headers,
            data=body.encode() if isinstance(body, str) else None,
        )
        request = WerkzeugOpenAPIRequest(Request(builder.get_environ()))
        if "body_base64" in ex:
            response_body = base64.b64decode(ex["body_base64"])
        else:
            response_body = (ex.get("body") or "").encode()
        response = WerkzeugOpenAPIResponse(
            Response(response_body, status=ex["status"], headers=list(ex["headers"].items()))
        )
        result = self.openapi.unmarshal_response(request, response)
        for error in result.errors:
            detail = error
            cause = getattr(error, "__cause__", None)
            schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
            if schema_errors:
                detail = "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema_errors)
            elif cause is not None:
                detail = f"{error}: {cause}"
            self.problems.append(f"{label} ({template}): {detail}")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    with open(argv[1]) as f:
        doc = json.load(f)
    spec_errors = list(OpenAPIV31SpecValidator(doc).iter_errors())
    for error in spec_errors:
        print(f"document: {error.message}")
    if spec_errors:
        return 1
    if len(argv) == 2:
        print("document: valid OpenAPI 3.1 (openapi-spec-validator)")
        return 0
    checker = Checker(doc)
    count = failed = 0
    for path in argv[2:]:
        with open(path) as f:
            for line in f:
                if line.strip():
                    before = len(checker.problems)
                    checker.check(json.loads(line))
                    count += 1
                    failed += len(checker.problems) > before
    statuses = Counter(key.rsplit(" ", 1)[1] for key in checker.seen)
    print(
        f"validated {count} exchanges over {len({k.split()[0] for k in checker.seen})} operations "
        f"(statuses: {', '.join(f'{s}×{n}' for s, n in sorted(statuses.items()))})"
    )
    for problem in checker.problems:
        print(f"PROBLEM {problem}")
    if count == 0:
        print("PROBLEM no exchanges were recorded")
        return 1
    print(f"exchanges: {count - failed} passed, {failed} failed")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
