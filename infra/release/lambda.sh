#!/usr/bin/env bash
# Release steps of the Lambda function, one subcommand per Cloud Build step of
# cloudbuild-lambda.yaml (which runs them in order). Every AWS call goes through the AWS CLI,
# authenticated by the role the pipeline assumed (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE:
# no long-lived key). State between steps (the version published, the version `live` pointed
# at before, alarms already firing) lives in $STATE_DIR.
#
#   lambda.sh publish IMAGE_URI     update the code, wait, publish a version; record the previous one
#   lambda.sh smoke                 invoke the new version with Function URL events: GET /health, POST /predict
#   lambda.sh canary PERCENT        send PERCENT % of the alias live to the new version
#   lambda.sh watch SECONDS         watch the deployment's alarms and the new version's own error
#                                   rate; a new alarm, too many errors, or alarms that cannot be
#                                   read roll back and fail
#   lambda.sh promote               all of live to the new version
#   lambda.sh rollback              all of live back to the previous version
#
# Environment: FUNCTION (the function's name), AWS_DEFAULT_REGION, STATE_DIR (default
# /workspace/lambda-release), API_KEY_SECRET_ARN (the smoke test's /predict sends the secret's
# first key; default: the secret the new version's own API_KEY_SECRET names), POLL_SECONDS
# (default 30), CANARY_MAX_ERROR_RATE (default 0.05). Needs aws (v1 or v2) and python3.
set -euo pipefail

: "${FUNCTION:?FUNCTION must name the Lambda function}"
STATE_DIR=${STATE_DIR:-/workspace/lambda-release}
POLL_SECONDS=${POLL_SECONDS:-30}
ALIAS=live
mkdir -p "$STATE_DIR"

say() { printf 'lambda-release: %s\n' "$*" >&2; }
state() { cat "$STATE_DIR/$1"; }

# The waiter gives up after 5 minutes; a large image may take longer to optimize.
wait_updated() {
  local attempt
  for attempt in 1 2 3; do
    aws lambda wait function-updated-v2 --function-name "$FUNCTION" && return 0
    say "still updating after wait $attempt"
  done
  return 1
}

publish() {
  local image=$1 previous version
  previous=$(aws lambda get-alias --function-name "$FUNCTION" --name "$ALIAS" --query FunctionVersion --output text)
  echo "$previous" > "$STATE_DIR/previous"
  say "live points at version $previous"
  aws lambda update-function-code --function-name "$FUNCTION" --image-uri "$image" --query LastUpdateStatus --output text >/dev/null
  wait_updated
  version=$(aws lambda publish-version --function-name "$FUNCTION" --description "image $image" --query Version --output text)
  aws lambda wait published-version-active --function-name "$FUNCTION" --qualifier "$version"
  echo "$version" > "$STATE_DIR/version"
  say "published version $version ($image)"
}

# One invocation of the new version with a Function URL-shaped event; fails unless the
# function answers the expected status (and, for /predict, a label). The payload may hold an
# API key: it lives in a private temporary file only, and nothing of it is printed.
invoke_url_event() {
  local method=$1 path=$2 body=$3 key=${4:-} dir
  dir=$(umask 077 && mktemp -d)
  SMOKE_KEY=$key python3 - "$method" "$path" "$body" > "$dir/event.json" <<'PY'
import json, os, sys, time, uuid
method, path, body = sys.argv[1:4]
key = os.environ.get("SMOKE_KEY", "")
headers = {"content-type": "application/json", "user-agent": "lambda-release-smoke"}
if key:
    headers["x-api-key"] = key
print(json.dumps({
    "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
    "headers": headers, "body": body, "isBase64Encoded": False,
    "requestContext": {
        "accountId": "anonymous", "apiId": "smoke", "domainName": "smoke.lambda-url.local",
        "domainPrefix": "smoke", "requestId": str(uuid.uuid4()), "routeKey": "$default",
        "stage": "$default", "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "timeEpoch": int(time.time() * 1000),
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                 "sourceIp": "127.0.0.1", "userAgent": "lambda-release-smoke"},
    },
}))
PY
  local function_error
  function_error=$(aws lambda invoke --function-name "$FUNCTION" --qualifier "$(state version)" \
    --payload "fileb://$dir/event.json" \
    --query FunctionError --output text "$dir/answer.json")
  rm -f "$dir/event.json"
  if [ -n "$function_error" ] && [ "$function_error" != None ]; then
    say "$method $path: the function failed ($function_error)"
    rm -rf "$dir"
    return 1
  fi
  python3 - "$method $path" "$dir/answer.json" <<'PY' || { rm -rf "$dir"; return 1; }
import json, sys
name, path = sys.argv[1:3]
with open(path) as answer_file:
    answer = json.load(answer_file)
status = answer.get("statusCode")
if status != 200:
    sys.exit(f"lambda-release: {name} answered {status}")
if name.endswith("/predict"):
    body = json.loads(answer["body"])
    if body.get("label") not in ("PRESENT", "ABSENT", "POSSIBLE"):
        sys.exit(f"lambda-release: {name} answered no label")
    print(f"lambda-release: {name}: 200, model {json.dumps(body.get('model'))}", file=sys.stderr)
else:
    print(f"lambda-release: {name}: 200", file=sys.stderr)
PY
  rm -rf "$dir"
}

smoke() {
  local key="" secret=${API_KEY_SECRET_ARN:-}
  if [ -z "$secret" ]; then
    secret=$(aws lambda get-function-configuration --function-name "$FUNCTION" --qualifier "$(state version)" \
      --query Environment.Variables.API_KEY_SECRET --output text)
    [ "$secret" != None ] || secret=""
  fi
  if [ -n "$secret" ]; then
    key=$(aws secretsmanager get-secret-value --secret-id "$secret" --query SecretString --output text \
      | tr ',' '\n' | sed 's/^[[:space:]]*//;s/[[:space:]]*$//' | grep -m1 . || true)
    [ -n "$key" ] || { say "the API key secret holds no key"; return 1; }
  fi
  invoke_url_event GET /health "" "$key"
  invoke_url_event POST /predict '{"sentence": "Patient denies [entity] chest pain [entity]."}' "$key"
}

# The deployment's alarms in state ALARM, one per line, sorted; fails when they cannot be read
# (an expired token, a denied call): never mistaken for "no alarm".
firing() {
  local names
  names=$(aws cloudwatch describe-alarms --alarm-name-prefix "$FUNCTION-" --state-value ALARM \
    --query 'MetricAlarms[].AlarmName' --output text) || return 1
  printf '%s\n' "$names" | tr '\t' '\n' | grep -v -e '^None$' -e '^$' | sort || true
}

# Errors and invocations of the new version alone (metrics by ExecutedVersion) since the
# canary began: "ERRORS INVOCATIONS". An alarm on the whole alias would miss a version that
# fails only its share of the traffic.
version_errors() {
  local metric total=""
  for metric in Errors Invocations; do
    total+="$(aws cloudwatch get-metric-statistics --namespace AWS/Lambda --metric-name "$metric" \
      --dimensions "Name=FunctionName,Value=$FUNCTION" "Name=Resource,Value=$FUNCTION:$ALIAS" \
      "Name=ExecutedVersion,Value=$(state version)" --start-time "$(state canary-start)" \
      --end-time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --period 60 --statistics Sum \
      --query 'sum(Datapoints[].Sum)' --output text) " || return 1
  done
  echo "$total"
}

canary() {
  local percent=$1 weight
  weight=$(python3 -c "import sys; p = float(sys.argv[1]); assert 0 < p < 100, p; print(round(p / 100, 4))" "$percent")
  firing > "$STATE_DIR/firing-before"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$STATE_DIR/canary-start"
  aws lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$(state previous)" \
    --routing-config "AdditionalVersionWeights={$(state version)=$weight}" --query RoutingConfig --output text >/dev/null
  say "live: version $(state previous), $percent % to version $(state version)"
}

# live back to the previous version, and $LATEST back to its image, so that a version
# published later (by Terraform or by hand) does not carry the rejected image.
rollback() {
  local image
  aws lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$(state previous)" \
    --routing-config 'AdditionalVersionWeights={}' --query FunctionVersion --output text >/dev/null
  say "rolled back: live is version $(state previous) again"
  image=$(aws lambda get-function --function-name "$FUNCTION" --qualifier "$(state previous)" --query Code.ImageUri --output text)
  aws lambda update-function-code --function-name "$FUNCTION" --image-uri "$image" --query LastUpdateStatus --output text >/dev/null
  wait_updated
  say "\$LATEST runs $image again"
}

watch() {
  local seconds=$1 deadline now new counts
  deadline=$((SECONDS + seconds))
  touch "$STATE_DIR/firing-before"
  while :; do
    if ! now=$(firing); then
      say "the alarms cannot be read: rolling back rather than promoting blind"
      rollback
      return 1
    fi
    new=$(comm -13 "$STATE_DIR/firing-before" <(printf '%s\n' "$now" | grep .) | tr '\n' ' ')
    if [ -n "${new// /}" ]; then
      say "alarm(s) fired during the canary: $new"
      rollback
      return 1
    fi
    if ! counts=$(version_errors); then
      say "the new version's metrics cannot be read: rolling back"
      rollback
      return 1
    fi
    if ! python3 - "$counts" "${CANARY_MAX_ERROR_RATE:-0.05}" <<'PY'; then
import sys
values = [0.0 if v in ("None", "") else float(v) for v in sys.argv[1].split()]
errors, invocations = values
limit = float(sys.argv[2])
if invocations and errors / invocations > limit:
    sys.exit(f"lambda-release: the new version failed {errors:.0f} of {invocations:.0f} invocations")
PY
      rollback
      return 1
    fi
    [ $SECONDS -lt $deadline ] || break
    sleep "$POLL_SECONDS"
  done
  say "no new alarm and no excess of errors in $seconds s"
}

promote() {
  aws lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$(state version)" \
    --routing-config 'AdditionalVersionWeights={}' --query FunctionVersion --output text >/dev/null
  say "promoted: live is version $(state version)"
}

command=${1:-}
shift || true
case "$command" in
  publish) publish "${1:?publish needs IMAGE_URI}" ;;
  smoke) smoke ;;
  canary) canary "${1:?canary needs PERCENT}" ;;
  watch) watch "${1:?watch needs SECONDS}" ;;
  promote) promote ;;
  rollback) rollback ;;
  *)
    sed -n '2,21p' "$0" >&2
    exit 2
    ;;
esac
