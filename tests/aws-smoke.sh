#!/usr/bin/env bash
# Opt-in smoke test against a REAL AWS account. Never run by CI or tests/run.sh.
#
#   SETUP_SMOKE_ACCOUNT=123456789012 \
#   SETUP_SMOKE_USER_POOL_ID=us-east-1_AbCdEf123 \
#   SETUP_SMOKE_CLIENT_ID=1example23456789 \
#   AWS_PROFILE=sandbox AWS_REGION=us-east-1 \
#   tests/aws-smoke.sh
#
# Runs apply → status → verify --create-test-user → apply (must make no change) →
# teardown --delete-table --yes on a stack with a unique name, printing each step's duration,
# and always cleans up (teardown runs on any exit). It refuses to start unless
# SETUP_SMOKE_ACCOUNT is the account the current credentials belong to, so it cannot run
# against an account by accident.
#
# The app client must allow ALLOW_USER_PASSWORD_AUTH (verify signs in with it) and have no
# client secret. Cost: an on-demand table with point-in-time recovery for a few minutes, a few
# requests: pennies at most. The credentials need policies/operator.json (which includes the
# cognito-idp Admin* calls for the test user).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "aws-smoke: $*" >&2; exit 2; }

: "${SETUP_SMOKE_ACCOUNT:?set SETUP_SMOKE_ACCOUNT to the account id you mean to use}"
: "${SETUP_SMOKE_USER_POOL_ID:?set SETUP_SMOKE_USER_POOL_ID (an existing user pool)}"
: "${SETUP_SMOKE_CLIENT_ID:?set SETUP_SMOKE_CLIENT_ID (an app client of that pool)}"
[ -z "${AWS_ENDPOINT_URL:-}" ] || die "AWS_ENDPOINT_URL is set ($AWS_ENDPOINT_URL): this script is for real AWS"

BIN="${SETUP_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build --release --locked --quiet
  BIN="$PWD/target/release/setup"
fi

actual=$(python3 - <<'PY'
import boto3
print(boto3.client("sts").get_caller_identity()["Account"])
PY
) || die "cannot read the caller identity (is boto3 installed, and are credentials set?)"
[ "$actual" = "$SETUP_SMOKE_ACCOUNT" ] \
  || die "the credentials belong to account $actual, not SETUP_SMOKE_ACCOUNT=$SETUP_SMOKE_ACCOUNT; refusing"

stack="setup-smoke-$(date +%s)-$$"
dir=$(mktemp -d)
cat >"$dir/setup.toml" <<EOF
stack = "$stack"

[user_pool]
id = "$SETUP_SMOKE_USER_POOL_ID"
client_ids = ["$SETUP_SMOKE_CLIENT_ID"]

[table]
name = "$stack-profiles"
deletion_protection = false
EOF

cleanup() {
  status=$?
  echo "== cleanup: teardown --delete-table --yes" >&2
  (cd "$dir" && "$BIN" teardown --delete-table --yes) || echo "aws-smoke: CLEANUP FAILED; remove stack $stack by hand" >&2
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT

step() {
  local start ms
  start=$(date +%s%N)
  echo "== setup $*" >&2
  (cd "$dir" && "$BIN" "$@")
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '== %-40s %d.%03ds\n' "setup $*" $((ms / 1000)) $((ms % 1000)) >&2
}

step apply
step status
step verify --create-test-user
out=$(cd "$dir" && "$BIN" apply --output json)
changed=$(printf '%s' "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(sum(len(s.get("done") or []) for s in j["steps"]))')
[ "$changed" = "0" ] || die "the second apply changed something: $out"
echo "== second apply: no change" >&2
trap - EXIT
step teardown --delete-table --yes
rm -rf "$dir"
echo "aws-smoke: passed on account $actual (stack $stack)" >&2
