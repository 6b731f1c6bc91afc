"""A stand-in for the `aws` command line, for infra/release/lambda.sh: AWS cannot be reached
from here, and moto's Lambda cannot invoke an image without Docker.

Every call is recorded (argv, one JSON line per call, in FAKE_AWS_LOG) so that a test can
check the order and arguments of the release's calls. Answers come from a small state
(alias version, version to publish, alarms firing, the secret's value) in the environment and
in files the test may change while a step runs. `aws lambda invoke` is real where it matters:
the payload goes to the Lambda invoke stand-in (tests/support/lambda_invoke.py) at
FAKE_AWS_LAMBDA_URL, where the function's own handler answers it.

    install(bin_dir) -> path of an `aws` executable that runs this module
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path


def install(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    aws = bin_dir / "aws"
    root = Path(__file__).resolve().parents[2]
    aws.write_text(f'#!/bin/sh\nPYTHONPATH="{root}" exec "{sys.executable}" -m tests.support.fake_aws "$@"\n')
    aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
    return aws


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def main(args: list[str]) -> int:
    with open(os.environ["FAKE_AWS_LOG"], "a") as log:
        log.write(json.dumps(args) + "\n")
    service, operation = args[0], args[1]
    if (service, operation) == ("lambda", "get-alias"):
        print(os.environ.get("FAKE_AWS_ALIAS_VERSION", "7"))
    elif (service, operation) == ("lambda", "update-function-code"):
        print("InProgress")
    elif (service, operation) == ("lambda", "wait"):
        pass
    elif (service, operation) == ("lambda", "publish-version"):
        print(os.environ.get("FAKE_AWS_NEW_VERSION", "8"))
    elif (service, operation) == ("lambda", "update-alias"):
        print(option(args, "--function-version"))
    elif (service, operation) == ("lambda", "get-function-configuration"):
        print(os.environ.get("FAKE_AWS_CONFIGURED_SECRET", "None"))
    elif (service, operation) == ("lambda", "get-function"):
        print(os.environ.get("FAKE_AWS_PREVIOUS_IMAGE", "previous-image"))
    elif (service, operation) == ("lambda", "invoke"):
        if "--cli-binary-format" in args:  # AWS CLI v1 (the pipeline's) has no such option
            print("Unknown options: --cli-binary-format", file=sys.stderr)
            return 255
        import httpx

        payload = Path(option(args, "--payload").removeprefix("fileb://")).read_bytes()
        url = os.environ["FAKE_AWS_LAMBDA_URL"] + "/2015-03-31/functions/function/invocations"
        reply = httpx.post(url, content=payload, timeout=60)
        Path(args[-1]).write_bytes(reply.content)
        print(reply.headers.get("x-amz-function-error") or "None")
    elif (service, operation) == ("secretsmanager", "get-secret-value"):
        print(os.environ["FAKE_AWS_SECRET"])
    elif (service, operation) == ("cloudwatch", "describe-alarms"):
        alarms = Path(os.environ["FAKE_AWS_ALARMS"]).read_text().split()
        if alarms == ["DENIED"]:
            print(
                "An error occurred (AccessDenied) when calling the DescribeAlarms operation", file=sys.stderr
            )
            return 254
        print("\t".join(alarms) if alarms else "None")
    elif (service, operation) == ("cloudwatch", "get-metric-statistics"):
        # FAKE_AWS_VERSION_METRICS holds "ERRORS INVOCATIONS" of the new version (or "None None").
        errors, invocations = Path(os.environ["FAKE_AWS_VERSION_METRICS"]).read_text().split()
        print(errors if option(args, "--metric-name") == "Errors" else invocations)
    else:
        print(f"fake aws: no answer for {service} {operation}", file=sys.stderr)
        return 255
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
