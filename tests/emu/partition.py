"""Partitions: arn:aws: commercially, arn:aws-us-gov: in GovCloud, arn:aws-cn: in China.

What moto 5.2.5 already does (checked per region by emu/selftest_realistic.py): STS
GetCallerIdentity, IAM roles and policies and DynamoDB table ARNs all carry the partition of the
request's region (moto.utilities.utils.get_partition), and IAM keeps one backend per partition.
What it lacks, fixed here or by callers of these helpers:
  * the emulator's sign-in path looked roles up in the "aws" IAM backend only;
  * cognito-identity has no ARNs of its own; identity_tags checks that a pool ARN names the
    partition of its region.
"""

from moto.iam.models import iam_backends
from moto.utilities.utils import get_partition


def partition_of(region: str) -> str:
    return get_partition(region)


def iam_backend(account_id: str, region: str):
    """The IAM backend (IAM is global per partition) that serves requests made in `region`."""
    return iam_backends[account_id][get_partition(region)]

