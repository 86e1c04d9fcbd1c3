#!/usr/bin/env bash
# The whole life cycle of a stack against a local AWS emulator (moto), no AWS account needed:
#
#   plan -> apply -> status -> apply again (no changes) -> teardown --delete-table --yes
#
# Run from anywhere in a checkout:  bash examples/local.sh
# It installs the emulator (tests/requirements.txt) and builds the binary when they are missing,
# starts tests/emulator.py on a free loopback port, creates a demo user pool and app client in
# it, and runs `setup` on a copy of examples/user-profiles-backend.toml that names them.
# The emulator stops when this script ends, however it ends. Exit status: 0 when every step did
# what it should, non-zero otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${SETUP_BIN:-target/debug/setup}

trap 'echo "local.sh: failed (line $LINENO, exit $?)" >&2' ERR

step() { printf '\n==> %s\n' "$*"; }

# --- 1. prerequisites ---------------------------------------------------------------------
command -v python3 >/dev/null || { echo "local.sh: python3 is required" >&2; exit 1; }
tests/install-tools.sh   # the emulator and its IAM simulator, when missing
if [ ! -x "$bin" ]; then
    step "building setup"
    cargo build
fi

# --- 2. the emulator, on a free port, tied to this script ---------------------------------
work=$(mktemp -d)
emu_pid=
cleanup() {
    exec 3>&-                                # EOF on the emulator's stdin: it exits
    if [ -n "$emu_pid" ]; then
        kill "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkfifo "$work/emulator.stdin"
python3 tests/emulator.py --port 0 <"$work/emulator.stdin" >"$work/emulator.out" 2>"$work/emulator.log" &
emu_pid=$!
exec 3>"$work/emulator.stdin"                # held open until the script exits

port=
for _ in $(seq 1 300); do
    if read -r word value <"$work/emulator.out" && [ "$word" = READY ]; then
        port=$value
        break
    fi
    if ! kill -0 "$emu_pid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "local.sh: the emulator did not start; its log:" >&2
    cat "$work/emulator.log" >&2
    exit 1
fi
step "emulator listening on 127.0.0.1:$port"

# Every AWS call goes to the emulator with dummy credentials; nothing from ~/.aws is used.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
for var in $(compgen -e | grep '^AWS_ENDPOINT_URL_' || true); do unset "$var"; done

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
    examples/user-profiles-backend.toml >"$config"
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
