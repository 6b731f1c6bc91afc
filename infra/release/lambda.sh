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
#   lambda.sh watch SECONDS         watch the deployment's alarms; a new one rolls back and fails
#   lambda.sh promote               all of live to the new version
#   lambda.sh rollback              all of live back to the previous version
#
# Environment: FUNCTION (the function's name), AWS_REGION, STATE_DIR (default
# /workspace/lambda-release), API_KEY_SECRET_ARN (optional: the smoke test's /predict sends the
# secret's first key), POLL_SECONDS (default 30). Needs aws and python3.
set -euo pipefail

: "${FUNCTION:?FUNCTION must name the Lambda function}"
STATE_DIR=${STATE_DIR:-/workspace/lambda-release}
POLL_SECONDS=${POLL_SECONDS:-30}
ALIAS=live
mkdir -p "$STATE_DIR"

say() { printf 'lambda-release: %s\n' "$*" >&2; }
state() { cat "$STATE_DIR/$1"; }

publish() {
  local image=$1 previous version
  previous=$(aws lambda get-alias --function-name "$FUNCTION" --name "$ALIAS" --query FunctionVersion --output text)
  echo "$previous" > "$STATE_DIR/previous"
  say "live points at version $previous"
  aws lambda update-function-code --function-name "$FUNCTION" --image-uri "$image" --query LastUpdateStatus --output text >/dev/null
  aws lambda wait function-updated-v2 --function-name "$FUNCTION"
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
  python3 - "$method" "$path" "$body" "$key" > "$dir/event.json" <<'PY'
import json, sys, time, uuid
method, path, body, key = sys.argv[1:5]
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
    --cli-binary-format raw-in-base64-out --payload "fileb://$dir/event.json" \
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
  local key=""
  if [ -n "${API_KEY_SECRET_ARN:-}" ]; then
    key=$(aws secretsmanager get-secret-value --secret-id "$API_KEY_SECRET_ARN" --query SecretString --output text \
      | tr ',' '\n' | sed 's/^[[:space:]]*//;s/[[:space:]]*$//' | grep -m1 . || true)
    [ -n "$key" ] || { say "the API key secret holds no key"; return 1; }
  fi
  invoke_url_event GET /health "" "$key"
  invoke_url_event POST /predict '{"sentence": "Patient denies [entity] chest pain [entity]."}' "$key"
}

firing() {
  aws cloudwatch describe-alarms --alarm-name-prefix "$FUNCTION-" --state-value ALARM \
    --query 'MetricAlarms[].AlarmName' --output text | tr '\t' '\n' | grep -v '^None$' | grep . | sort || true
}

canary() {
  local percent=$1 weight
  weight=$(python3 -c "import sys; p = float(sys.argv[1]); assert 0 < p < 100, p; print(round(p / 100, 4))" "$percent")
  firing > "$STATE_DIR/firing-before"
  aws lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$(state previous)" \
    --routing-config "AdditionalVersionWeights={$(state version)=$weight}" --query RoutingConfig --output text >/dev/null
  say "live: version $(state previous), $percent % to version $(state version)"
}

rollback() {
  aws lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$(state previous)" \
    --routing-config 'AdditionalVersionWeights={}' --query FunctionVersion --output text >/dev/null
  say "rolled back: live is version $(state previous) again"
}

watch() {
  local seconds=$1 deadline new
  deadline=$((SECONDS + seconds))
  touch "$STATE_DIR/firing-before"
  while :; do
    new=$(firing | comm -13 "$STATE_DIR/firing-before" - | tr '\n' ' ')
    if [ -n "${new// /}" ]; then
      say "alarm(s) fired during the canary: $new"
      rollback
      return 1
    fi
    [ $SECONDS -lt $deadline ] || break
    sleep "$POLL_SECONDS"
  done
  say "no new alarm in $seconds s"
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
