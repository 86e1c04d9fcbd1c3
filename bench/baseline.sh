#!/usr/bin/env bash
# The way people script this today: AWS CLI calls, check-then-create, one after another.
# Used by bench/run.py as the baseline `setup` is compared with. It does the same steps:
# table (+ PITR, deletion protection), identity pool, role with a pool-scoped trust policy,
# access policy attached to the role, the pool's authenticated role.
#
#   bench/baseline.sh apply|status|teardown
#
# Environment: AWS (AWS_ENDPOINT_URL, AWS_REGION, keys), AWS_CLI (the aws binary), and the
# names: STACK, TABLE, USER_POOL_ID, CLIENT_ID. `status` exits 2 when anything differs.
set -euo pipefail

AWS_CLI=${AWS_CLI:-aws}
aws() { "$AWS_CLI" --endpoint-url "$AWS_ENDPOINT_URL" --region "$AWS_REGION" "$@"; }

POOL_NAME="${STACK//-/_}_identities"
ROLE="$STACK-cognito-authenticated"
POLICY="$STACK-table-access"
PROVIDER="cognito-idp.$AWS_REGION.amazonaws.com/$USER_POOL_ID"

account() { aws sts get-caller-identity --query Account --output text; }

find_pool() {
  local id
  id=$(aws cognito-identity list-identity-pools --max-results 60 \
    --query "IdentityPools[?IdentityPoolName=='$POOL_NAME'].IdentityPoolId | [0]" --output text)
  [ "$id" = "None" ] && id=""
  echo "$id"
}

trust_doc() {
  cat <<EOF
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"$1"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}
EOF
}

access_doc() {
  cat <<EOF
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:UpdateItem"],"Resource":"arn:aws:dynamodb:$AWS_REGION:$1:table/$TABLE"}]}
EOF
}

apply() {
  local acct pool role_arn policy_arn aud pitr attached auth
  acct=$(account)
  aws cognito-idp describe-user-pool --user-pool-id "$USER_POOL_ID" >/dev/null
  aws cognito-idp describe-user-pool-client --user-pool-id "$USER_POOL_ID" --client-id "$CLIENT_ID" >/dev/null

  if ! aws dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
    aws dynamodb create-table --table-name "$TABLE" \
      --attribute-definitions AttributeName=userId,AttributeType=S AttributeName=createdAt,AttributeType=S \
      --key-schema AttributeName=userId,KeyType=HASH AttributeName=createdAt,KeyType=RANGE \
      --billing-mode PAY_PER_REQUEST --deletion-protection-enabled \
      --tags Key=setup:stack,Value="$STACK" >/dev/null
    aws dynamodb wait table-exists --table-name "$TABLE"
  fi
  pitr=$(aws dynamodb describe-continuous-backups --table-name "$TABLE" \
    --query ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus --output text)
  if [ "$pitr" != "ENABLED" ]; then
    aws dynamodb update-continuous-backups --table-name "$TABLE" \
      --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true >/dev/null
  fi

  pool=$(find_pool)
  if [ -z "$pool" ]; then
    pool=$(aws cognito-identity create-identity-pool --identity-pool-name "$POOL_NAME" \
      --no-allow-unauthenticated-identities \
      --cognito-identity-providers ProviderName="$PROVIDER",ClientId="$CLIENT_ID",ServerSideTokenCheck=false \
      --query IdentityPoolId --output text)
  fi

  role_arn="arn:aws:iam::$acct:role/$ROLE"
  if aud=$(aws iam get-role --role-name "$ROLE" \
      --query 'Role.AssumeRolePolicyDocument.Statement[0].Condition.StringEquals."cognito-identity.amazonaws.com:aud"' \
      --output text 2>/dev/null); then
    if [ "$aud" != "$pool" ]; then
      aws iam update-assume-role-policy --role-name "$ROLE" --policy-document "$(trust_doc "$pool")"
    fi
  else
    aws iam create-role --role-name "$ROLE" --assume-role-policy-document "$(trust_doc "$pool")" >/dev/null
  fi

  policy_arn="arn:aws:iam::$acct:policy/$POLICY"
  if ! aws iam get-policy --policy-arn "$policy_arn" >/dev/null 2>&1; then
    aws iam create-policy --policy-name "$POLICY" --policy-document "$(access_doc "$acct")" >/dev/null
  fi
  attached=$(aws iam list-attached-role-policies --role-name "$ROLE" \
    --query "length(AttachedPolicies[?PolicyArn=='$policy_arn'])" --output text)
  if [ "$attached" != "1" ]; then
    aws iam attach-role-policy --role-name "$ROLE" --policy-arn "$policy_arn"
  fi

  auth=$(aws cognito-identity get-identity-pool-roles --identity-pool-id "$pool" \
    --query Roles.authenticated --output text)
  if [ "$auth" != "$role_arn" ]; then
    aws cognito-identity set-identity-pool-roles --identity-pool-id "$pool" \
      --roles authenticated="$role_arn"
  fi
}

status() {
  local acct pool drift=0 pitr aud attached auth policy_arn
  acct=$(account)
  aws cognito-idp describe-user-pool --user-pool-id "$USER_POOL_ID" >/dev/null
  aws cognito-idp describe-user-pool-client --user-pool-id "$USER_POOL_ID" --client-id "$CLIENT_ID" >/dev/null
  aws dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1 || drift=1
  pitr=$(aws dynamodb describe-continuous-backups --table-name "$TABLE" \
    --query ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus \
    --output text 2>/dev/null || echo missing)
  [ "$pitr" = "ENABLED" ] || drift=1
  pool=$(find_pool)
  [ -n "$pool" ] || drift=1
  aud=$(aws iam get-role --role-name "$ROLE" \
    --query 'Role.AssumeRolePolicyDocument.Statement[0].Condition.StringEquals."cognito-identity.amazonaws.com:aud"' \
    --output text 2>/dev/null || echo missing)
  [ "$aud" = "$pool" ] || drift=1
  policy_arn="arn:aws:iam::$acct:policy/$POLICY"
  aws iam get-policy --policy-arn "$policy_arn" >/dev/null 2>&1 || drift=1
  attached=$(aws iam list-attached-role-policies --role-name "$ROLE" \
    --query "length(AttachedPolicies[?PolicyArn=='$policy_arn'])" --output text 2>/dev/null || echo 0)
  [ "$attached" = "1" ] || drift=1
  if [ -n "$pool" ]; then
    auth=$(aws cognito-identity get-identity-pool-roles --identity-pool-id "$pool" \
      --query Roles.authenticated --output text)
    [ "$auth" = "arn:aws:iam::$acct:role/$ROLE" ] || drift=1
  fi
  if [ "$drift" = 1 ]; then echo "drift"; exit 2; fi
  echo "in sync"
}

teardown() {
  local acct pool policy_arn
  acct=$(account)
  policy_arn="arn:aws:iam::$acct:policy/$POLICY"
  aws iam detach-role-policy --role-name "$ROLE" --policy-arn "$policy_arn" 2>/dev/null || true
  aws iam delete-policy --policy-arn "$policy_arn" 2>/dev/null || true
  aws iam delete-role --role-name "$ROLE" 2>/dev/null || true
  pool=$(find_pool)
  [ -z "$pool" ] || aws cognito-identity delete-identity-pool --identity-pool-id "$pool"
  if aws dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
    aws dynamodb update-table --table-name "$TABLE" --no-deletion-protection-enabled >/dev/null
    aws dynamodb delete-table --table-name "$TABLE" >/dev/null
  fi
}

case "${1:-}" in
  apply) apply ;;
  status) status ;;
  teardown) teardown ;;
  *) echo "usage: $0 apply|status|teardown" >&2; exit 64 ;;
esac
