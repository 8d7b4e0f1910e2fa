"""CloudWatch Logs AssociateKmsKey and DisassociateKmsKey, which moto 5.2.5 answers with HTTP 500.

- AssociateKmsKey {logGroupName, kmsKeyId} sets the group's key:
  DescribeLogGroups shows it as `kmsKeyId`. AWS encrypts only events
  ingested from then on; existing events stay under the key they were
  written with (nothing here models events' keys).
- The key must be a KMS key ARN in the group's account and region (AWS's
  parameter is the key's ARN) that exists and is Enabled; otherwise AWS
  answers AccessDeniedException "The specified KMS key does not exist or is
  not allowed to be used with Arn '<log group ARN>'" (the message AWS gives,
  as users report it for AssociateKmsKey and CreateLogGroup). A group that
  does not exist is ResourceNotFoundException.
- DisassociateKmsKey {logGroupName} removes it: new events are then
  encrypted with Logs' own key.
"""

from moto.logs import exceptions as logs_exceptions
from moto.logs import responses as logs_responses
from moto.core.exceptions import JsonRESTError

from .services_keys import find_key

_installed = False


class AccessDeniedException(JsonRESTError):
    code = 400

    def __init__(self, group_arn):
        super().__init__("AccessDeniedException",
                         f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'")


def _group(response):
    name = response._get_param("logGroupName")
    if not name:
        raise logs_exceptions.InvalidParameterException("logGroupName is required.")
    group = response.logs_backend.groups.get(name)
    if group is None:
        raise logs_exceptions.ResourceNotFoundException()
    return group


def _group_arn(group):
    # DescribeLogGroups' `arn` ends in ":*"; AWS names the group without it in this message.
    return group.arn[:-2] if group.arn.endswith(":*") else group.arn


def _associate_kms_key(self):
    group = _group(self)
    key_arn = self._get_param("kmsKeyId") or ""
    key = find_key(self.current_account, self.region, key_arn) if key_arn.startswith("arn:") else None
    if key is None or key.arn != key_arn or key.key_state != "Enabled":
        raise AccessDeniedException(_group_arn(group))
    group.kms_key_id = key.arn
    return ""


def _disassociate_kms_key(self):
    _group(self).kms_key_id = None
    return ""


def install():
    global _installed
    if _installed:
        return
    logs_responses.LogsResponse.associate_kms_key = _associate_kms_key
    logs_responses.LogsResponse.disassociate_kms_key = _disassociate_kms_key
    _installed = True
