"""Real Lambda HTTP event shapes, built from a plain request, and their responses read back.

Shapes as AWS documents them: API Gateway REST (payload 1.0), HTTP API (payload 2.0),
Function URLs (2.0 with a lambda-url domain), and ALB target groups.
"""

from __future__ import annotations

import base64
import time
import uuid
from urllib.parse import parse_qsl

SHAPES = ("v1", "v2", "url", "alb")


def _body(content: bytes) -> tuple[str, bool]:
    try:
        return content.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(content).decode(), True


def build_event(
    shape: str, method: str, path: str, query: str, headers: dict[str, str], content: bytes
) -> dict:
    body, is_base64 = _body(content)
    lower = {name.lower(): value for name, value in headers.items()}
    params = dict(parse_qsl(query, keep_blank_values=True)) or None
    request_id = str(uuid.uuid4())
    if shape == "v1":
        return {
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": params,
            "multiValueQueryStringParameters": {k: [v] for k, v in (params or {}).items()} or None,
            "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "a1b2c3d4e5",
                "httpMethod": method,
                "identity": {"sourceIp": "203.0.113.7", "userAgent": lower.get("user-agent", "")},
                "path": f"/prod{path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "requestTimeEpoch": int(time.time() * 1000),
                "resourcePath": "/{proxy+}",
                "stage": "prod",
            },
            "body": body or None,
            "isBase64Encoded": is_base64,
        }
    if shape in ("v2", "url"):
        domain = (
            "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
            if shape == "url"
            else "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
        )
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": lower,
            "queryStringParameters": params,
            "requestContext": {
                "accountId": "anonymous" if shape == "url" else "123456789012",
                "apiId": domain.split(".")[0],
                "domainName": domain,
                "domainPrefix": domain.split(".")[0],
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": lower.get("user-agent", ""),
                },
                "requestId": request_id,
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "timeEpoch": int(time.time() * 1000),
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }
    if shape == "alb":
        return {
            "requestContext": {
                "elb": {
                    "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                    "targetgroup/clinical-assertion/0123456789abcdef"
                }
            },
            "httpMethod": method,
            "path": path,
            "queryStringParameters": params or {},
            "headers": lower,
            "body": body,
            "isBase64Encoded": is_base64,
        }
    raise ValueError(f"unknown event shape {shape}")


def read_response(result: dict) -> tuple[int, dict[str, str], bytes]:
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(values)
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return int(result["statusCode"]), headers, content
