"""API keys from an AWS Secrets Manager secret (API_KEY_SECRET given as a secret ARN), read
once at start with boto3. Imported only when configured.

The secret's value is text: keys separated by commas or new lines (SecretString, or a
SecretBinary holding UTF-8). The region comes from the ARN; AWS_ENDPOINT_URL_SECRETS_MANAGER
(boto3's own setting) points the client at a VPC endpoint or a local stand-in.
"""

from __future__ import annotations

import re

from function.startup.keys import KeySourceError, parse_keys

# arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX (the form `aws secretsmanager
# create-secret` prints), optionally followed by :VERSION_STAGE (e.g. ":AWSPREVIOUS").
SECRET_ARN = re.compile(
    r"^arn:aws(?:-cn|-us-gov|-iso[a-z-]*)?:secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:"
    r"secret:(?P<name>[A-Za-z0-9/_+=.@-]+?)(?::(?P<stage>[A-Za-z0-9_]+))?$"
)


def read_secret_keys(arn: str) -> tuple[str, ...]:
    """GetSecretValue once; any failure raises KeySourceError (the service must not start open)."""
    match = SECRET_ARN.fullmatch(arn)
    if match is None:
        raise KeySourceError(f"{arn!r} is not a Secrets Manager secret ARN")
    secret_id = arn if match["stage"] is None else arn[: -len(match["stage"]) - 1]
    request = {"SecretId": secret_id}
    if match["stage"]:
        request["VersionStage"] = match["stage"]
    import boto3
    from botocore.config import Config

    try:
        client = boto3.client(
            "secretsmanager",
            region_name=match["region"],
            config=Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3}),
        )
        response = client.get_secret_value(**request)
    except Exception as error:  # noqa: BLE001 (credentials, network or API: all stop the start)
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        raise KeySourceError(
            f"cannot read API keys from secret {secret_id}: {type(error).__name__}"
            + (f" ({code})" if code else "")
        ) from None
    if "SecretString" in response:
        text = response["SecretString"]
    else:
        try:
            text = bytes(response.get("SecretBinary", b"")).decode("utf-8")
        except UnicodeDecodeError:
            raise KeySourceError(f"secret {secret_id} is not UTF-8 text") from None
    keys = parse_keys(text)
    if not keys:
        raise KeySourceError(f"secret {secret_id} holds no key")
    return keys
