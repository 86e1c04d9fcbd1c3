#!/usr/bin/env bash
# The whole life cycle of a stack against a local AWS emulator (moto), no AWS account needed:
#
#   plan -> apply -> status -> apply again (no changes) -> teardown --delete-table --yes
#
# Run from anywhere in a checkout:  bash examples/local.sh
# It runs $SETUP_BIN, else `setup` on PATH, else builds the binary (cargo build). It installs the
# emulator when it is missing (tests/install-tools.sh --emulator), starts tests/emulator.py on a
# free loopback port, creates a demo user pool and app client in it, and runs `setup` on a copy
# of examples/user-profiles.toml that names them.
# The emulator stops when this script ends, however it ends. Exit status: 0 when every step did
# what it should, non-zero otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

trap 'echo "local.sh: failed (line $LINENO, exit $?)" >&2' ERR

step() { printf '\n==> %s\n' "$*"; }

# --- 1. prerequisites ---------------------------------------------------------------------
command -v python3 >/dev/null || { echo "local.sh: python3 is required" >&2; exit 1; }
tests/install-tools.sh --emulator   # the emulator and its IAM simulator, when missing
. examples/emulator.sh
setup_bin                           # $SETUP_BIN, else setup on PATH, else cargo build

# --- 2. the emulator, on a free port, tied to this script ---------------------------------
# Every AWS call goes to the emulator with dummy credentials; nothing from ~/.aws is used.
start_emulator local.sh
step "emulator listening on 127.0.0.1:$port"

# --- 3. a demo user pool and app client (they exist before setup runs, as in real life) ----
read -r pool_id client_id < <(python3 - <<'PY'
import os
import boto3

idp = boto3.client("cognito-idp", region_name="us-east-1",
                   endpoint_url=os.environ["AWS_ENDPOINT_URL"])
pool = idp.create_user_pool(PoolName="local-demo")["UserPool"]["Id"]
client = idp.create_user_pool_client(UserPoolId=pool, ClientName="local-demo-app")
print(pool, client["UserPoolClient"]["ClientId"])
PY
)
step "demo user pool $pool_id, app client $client_id"

config="$work/setup.toml"
sed -e "s/us-east-1_AbCdEf123/$pool_id/" -e "s/1example23456789abcdefghij/$client_id/" \
    examples/user-profiles.toml >"$config"
grep -q "$pool_id" "$config" && grep -q "$client_id" "$config" || {
    echo "local.sh: could not put the demo ids into the config" >&2
    exit 1
}

# --- 4. the life cycle --------------------------------------------------------------------
step "setup plan       (what apply would do; changes nothing)"
"$bin" plan --config "$config"

step "setup apply      (creates the table, identity pool, role, trust policy, access policy)"
"$bin" apply --config "$config"

step "setup status     (exit 0: everything in sync)"
"$bin" status --config "$config"

step "setup apply      (again: nothing to change)"
"$bin" apply --config "$config" | tee "$work/apply-again.txt"
grep -q '^No changes' "$work/apply-again.txt" || {
    echo "local.sh: the second apply changed something" >&2
    exit 1
}

step "setup teardown --delete-table --yes   (removes everything, the table too)"
"$bin" teardown --delete-table --yes --config "$config"

step "done: every step succeeded"
