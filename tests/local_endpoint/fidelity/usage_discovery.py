"""Read calls that usage discovery needs and moto 5.2 lacks.

- EC2 GetEbsDefaultKmsKeyId (moto: not implemented, though it implements
  ModifyEbsDefaultKmsKeyId): the region's default EBS key as its ARN once
  set, and `alias/aws/ebs` while the account uses the AWS managed key.
"""

from moto.core.responses import ActionResult
from moto.ec2.responses import elastic_block_store as ebs_responses

_installed = False


def _get_ebs_default_kms_key_id(self):
    return ActionResult({"KmsKeyId": self.ec2_backend.default_kms_key_id or "alias/aws/ebs"})


def install():
    global _installed
    if _installed:
        return
    ebs_responses.ElasticBlockStore.get_ebs_default_kms_key_id = _get_ebs_default_kms_key_id
    _installed = True
