"""Fidelity patches for the moto-based launcher tests/emulator.py.

One module per concern:

  realistic        the windows of the realistic mode (--realistic SPEC), their runtime endpoint
                   GET/POST /_setup/realistic, and install() which applies every patch below
  table_lifecycle  DynamoDB table states and delays (realistic mode)
  iam_fidelity     IAM checks moto lacks, always on (DeletePolicy conflicts, PolicySize quota)
  iam_realistic    IAM delays (realistic mode): DeleteConflict after a detach,
                   ConcurrentModification on a new role, role propagation to Cognito
  identity_tags    cognito-identity TagResource / UntagResource / ListTagsForResource, always on
  partition        aws / aws-us-gov / aws-cn: which IAM backend serves a region

tests/emulator.py runs as a script, so tests/ is on sys.path and `import emu.realistic` works.
"""
