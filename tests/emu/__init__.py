"""The moto-based emulator behind tests/emulator.py (a small script that runs launcher.main).

Runs moto's server app (DynamoDB, Cognito, IAM, STS, ...) on loopback and adds, one module per
concern:

  launcher         options, the order of the moto patches, the WSGI layers, READY <port>, exit on
                   stdin EOF / SIGTERM / SIGINT; binds loopback only
  calllog          the per-access-key call log (GET /_setup/calls?key=AKID), GET /_setup/health,
                   the artificial latency (--delay-ms / SETUP_EMULATOR_DELAY_MS), and the
                   dispatch of the other /_setup/ endpoints
  faults           fault injection (POST /_setup/faults, --faults SPEC) and holds
                   (POST /_setup/hold, /_setup/release) for the reliability tests
  pool_roles       cognito-identity SetIdentityPoolRoles / GetIdentityPoolRoles, which moto lacks
  principal_tags   cognito-identity SetPrincipalTagAttributeMap / GetPrincipalTagAttributeMap
                   (attributes for access control), which moto lacks, and the tags they give a
                   sign-in
  sign_in          faithful sign-in: InitiateAuth auth flows, GetId and GetCredentialsForIdentity
                   checking Logins, the pool's role and its trust policy; fresh credentials a call
  role_mappings    role-based access control: the role GetCredentialsForIdentity chooses (rules,
                   token roles, AmbiguousRoleResolution), the group claims of user pool tokens,
                   GetCallerIdentity of issued credentials
  iam_enforce      IAM on those identity credentials, decided by an independent simulator (Node
                   sidecar tests/iam-sim); GET /_setup/iam-decisions?key=ASIA...
  iam_users        with IAM enforced (INITIAL_NO_AUTH_ACTION_COUNT), IAM users' requests decided
                   by the same simulator, with resources and the condition keys AWS passes
                   (tags, iam:PolicyARN, iam:PassRole implied by SetIdentityPoolRoles)
  signature        moto's SigV4 check fixed for form bodies with spaces (IAM enforcement)
  table_status     GET /_setup/table-status?name=T&status=S: DescribeTable reports S for T
  paging           List calls paged as AWS pages them (--page-size N), and
                   POST /_setup/bulk-identity-pools
  endpoints        the endpoints above that sit outside the call log
  errors           the service errors the patches raise (InvalidParameterException)
  user_pools       user pool checks moto lacks: username formats, schema, password policy
  tagging          Resource Groups Tagging API GetResources for identity pools (POST
                   /_setup/tagging) and the fault kind "denied"
  identity_tags    cognito-identity TagResource / UntagResource / ListTagsForResource, always on
  iam_fidelity     IAM checks moto lacks, always on (DeletePolicy conflicts, PolicySize quota,
                   trust policies naming an OIDC or SAML provider the account lacks)
  resource_policies  DynamoDB resource-based policies as AWS has them (idempotent delete, gone
                   with the table), and the policy that governs a request, for iam_enforce
  partition        aws / aws-us-gov / aws-cn: which IAM backend serves a region
  realistic        the windows of the realistic mode (--realistic SPEC), their runtime endpoint
                   GET/POST /_setup/realistic, and install() which applies the patches below
  table_lifecycle  DynamoDB table states and delays (realistic mode)
  iam_realistic    IAM delays (realistic mode): DeleteConflict after a detach,
                   ConcurrentModification on a new role, role propagation to Cognito

Self-tests (also run by the Rust suite, tests/e2e/emulator_selftests.rs):
python3 tests/emu/selftest_realistic.py, python3 tests/emu/selftest_enforce.py,
python3 tests/emu/selftest_principal_tags.py, python3 tests/emu/selftest_iam_users.py and
python3 tests/emu/selftest_iam_fidelity.py; what they share (a launcher on loopback, boto3
clients) is in selftest_support.py.

tests/emulator.py runs as a script, so tests/ is on sys.path and `import emu.launcher` works.
"""
