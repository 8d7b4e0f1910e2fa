"""The retirement gate's choice of look at a target bucket, and the entries a residue proof gives."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.targets import Target, prove_bucket
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import UsageSpec
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.gate import BucketVerify
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.residue import ResidueProof

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
BATCH = {"batch_role_arn": "arn:aws:iam::123456789012:role/batch", "batch_report_bucket": "reports"}
TARGET = Target("s3://data", "", "all")


class _Context(object):
    """What the gate's look needs of a RegionContext: the key and the region's clients."""

    key_arn = KEY

    def __init__(self, aws_client=None):
        self._aws_client = aws_client

    def client(self, service):
        return self._aws_client(service)


def _spec(**options):
    return UsageSpec(key_id=KEY, for_retirement=True, **options)


def test_batch_without_a_role_is_refused_first():
    with pytest.raises(RotationError, match="batch_role_arn and batch_report_bucket"):
        BucketVerify(None, _spec(s3_verify="batch"), False).check_options()


@pytest.mark.parametrize("options, objects, proof", [
    ({"s3_verify": "scan"}, 5, False),
    ({"s3_verify": "auto"}, 5, False),
    (dict(BATCH, s3_verify="batch"), 0, True),
    (dict(BATCH, s3_verify="auto", batch_threshold_versions=3), 5, True),
    (dict(BATCH, s3_verify="auto", batch_threshold_versions=30), 5, False),
])
def test_proof_is_chosen_by_s3_verify_role_and_estimate(aws_client, options, objects, proof):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="data")
    for index in range(objects):
        s3.put_object(Bucket="data", Key="doc-{0}".format(index), Body=b"x")
    assert BucketVerify(None, _spec(**options), False).wants_proof(_Context(aws_client), "data") is proof


def test_check_mode_makes_no_proof():
    assert BucketVerify(None, _spec(**dict(BATCH, s3_verify="batch")), True).prover(_Context(), "data", "Enabled")() \
        is None


def _proof(count):
    return ResidueProof("data", KEY, count, "proof-job-1", "s3://reports/m.json", covers_noncurrent=True)


def test_a_clean_proof_is_no_dependent_and_residue_blocks_with_its_count():
    assert prove_bucket(_Context(), TARGET, None, 10, lambda: _proof(0), "Unversioned") == []
    [entry] = prove_bucket(_Context(), TARGET, None, 10, lambda: _proof(4), "Unversioned")
    assert (entry["kind"], entry["count"], entry["key_arn"], entry["planned"]) == ("blocking", 4, KEY, False)
    assert "proof-job-1" in entry["reason"] and entry["residue_proof"]["count"] == 4


def test_no_proof_is_unknown():
    [entry] = prove_bucket(_Context(), TARGET, None, 10, lambda: None, "Unversioned")
    assert entry["kind"] == "unknown" and "check mode" in entry["reason"]
