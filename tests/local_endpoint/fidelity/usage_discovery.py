"""Read calls that usage discovery needs and moto 5.2 lacks or answers wrongly.

- EC2 GetEbsDefaultKmsKeyId (moto: not implemented, though it implements
  ModifyEbsDefaultKmsKeyId): the region's default EBS key as its ARN once
  set, and `alias/aws/ebs` while the account uses the AWS managed key.
- Secrets Manager ListSecretVersionIds reports each version's CreatedDate
  as the time the version was created (moto answers the time of the
  listing, so every version looks newer than any alias move).
- S3 HeadObject with versionId=null in a bucket that was never versioned
  answers its one (null) version, as ListObjectVersions names it; moto
  answers any versionId there with a bare 400.
"""

import functools
import json

from moto.core.responses import ActionResult
from moto.ec2.responses import elastic_block_store as ebs_responses
from moto.s3 import responses as s3_responses
from moto.secretsmanager import models as secretsmanager_models

_installed = False


def _get_ebs_default_kms_key_id(self):
    return ActionResult({"KmsKeyId": self.ec2_backend.default_kms_key_id or "alias/aws/ebs"})


def _list_secret_version_ids(original):
    @functools.wraps(original)
    def list_secret_version_ids(self, secret_id):
        answer = json.loads(original(self, secret_id))
        versions = self.secrets[secret_id].versions
        for version in answer["Versions"]:
            version["CreatedDate"] = versions[version["VersionId"]]["createdate"]
        return json.dumps(answer)
    return list_secret_version_ids


def _head_object(original):
    @functools.wraps(original)
    def head_object(self, bucket_name, query, key_name, headers):
        if query.get("versionId") == ["null"] and self.backend.get_bucket(bucket_name).versioning_status is None:
            # A bucket never versioned holds only the null version: the object itself.
            query = dict((name, value) for name, value in query.items() if name != "versionId")
        return original(self, bucket_name, query, key_name, headers)
    return head_object


def install():
    global _installed
    if _installed:
        return
    ebs_responses.ElasticBlockStore.get_ebs_default_kms_key_id = _get_ebs_default_kms_key_id
    backend = secretsmanager_models.SecretsManagerBackend
    backend.list_secret_version_ids = _list_secret_version_ids(backend.list_secret_version_ids)
    s3_responses.S3Response.head_object = _head_object(s3_responses.S3Response.head_object)
    _installed = True
