#!/usr/bin/env bash
# The application side, end to end, against a local AWS emulator (no AWS account needed):
#
#   apply -> outputs (print, then --write a properties file) -> verify --create-test-user
#         -> status -> teardown --delete-table --yes
#
# Run from anywhere in a checkout:  bash examples/walkthrough.sh
# Like examples/local.sh it runs $SETUP_BIN, else `setup` on PATH, else builds the binary;
# installs the emulator when missing (tests/install-tools.sh --emulator), and starts
# tests/emulator.py on a free loopback port (stopped when the script ends). It creates what exists before `setup` runs in real life: a user pool with an app client
# that allows USER_PASSWORD_AUTH, and the IAM role the backend runs as. Then it runs `setup` on
# a copy of examples/user-profiles-with-backend.toml that names them. Exit 0 when every step worked.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
trap 'echo "walkthrough.sh: failed (line $LINENO, exit $?)" >&2' ERR
step() { printf '\n$ %s\n' "$*"; }

command -v python3 >/dev/null || { echo "walkthrough.sh: python3 is required" >&2; exit 1; }
tests/install-tools.sh --emulator   # the emulator and its IAM simulator, when missing
. examples/emulator.sh
setup_bin                           # $SETUP_BIN, else setup on PATH, else cargo build
start_emulator walkthrough.sh

read -r pool_id client_id < <(python3 - <<'PY'
import os, boto3
kw = dict(region_name="us-east-1", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
idp = boto3.client("cognito-idp", **kw)
pool = idp.create_user_pool(PoolName="walkthrough")["UserPool"]["Id"]
client = idp.create_user_pool_client(
    UserPoolId=pool, ClientName="profiles-app",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
boto3.client("iam", **kw).create_role(
    RoleName="profiles-api-task",
    AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}')
print(pool, client["UserPoolClient"]["ClientId"])
PY
)
echo "# before setup: user pool $pool_id, app client $client_id, backend role profiles-api-task"

sed -e "s/us-east-1_AbCdEf123/$pool_id/" -e "s/1example23456789abcdefghij/$client_id/" \
    examples/user-profiles-with-backend.toml >"$work/setup.toml"
cd "$work"
printf '# a Spring Boot settings file\nserver.port=8080\naws.region=eu-west-1\n' >application.properties

step "setup apply"
"$bin" apply 2>/dev/null
step "setup outputs --format env"
"$bin" outputs --format env
step "setup outputs --write application.properties"
"$bin" outputs --write application.properties
step "cat application.properties"
cat application.properties
step "setup verify --create-test-user"
"$bin" verify --create-test-user
step "setup status"
"$bin" status
step "setup teardown --delete-table --yes"
"$bin" teardown --delete-table --yes 2>/dev/null
echo
echo "# done: every step succeeded"
