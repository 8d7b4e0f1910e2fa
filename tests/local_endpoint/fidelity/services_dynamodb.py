"""DynamoDB UpdateTable SSESpecification, which moto 5.2.5 silently ignores.

- UpdateTable with SSESpecification {Enabled: true, SSEType: KMS,
  KMSMasterKeyId} moves the table to that key: the answer shows
  TableStatus UPDATING and SSEDescription {Status: UPDATING, SSEType: KMS,
  KMSMasterKeyArn: the key's ARN}, and the next DescribeTable shows the table
  ACTIVE with SSEDescription Status ENABLED (AWS takes minutes; moto's
  changes are instant, so the update completes at the first look, as its
  waiters do). Without KMSMasterKeyId the key is the AWS managed
  `alias/aws/dynamodb`; Enabled false goes back to the AWS owned key (no
  SSEDescription). The key is resolved in the table's account and region
  and reported by ARN, whatever the request named it by; a key that does
  not exist or is not Enabled is a ValidationException and changes nothing.
- Replicas (global tables version 2019.11.21) are not modelled by moto
  5.2.5: UpdateTable ReplicaUpdates is ignored and DescribeTable has no
  Replicas, so there is nothing of theirs to re-key here.
"""

import functools

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from .services_keys import find_key

_installed = False
# Set on a table by an SSE change, cleared by the first description after the one UpdateTable answers.
_UPDATING = "_kmsrotate_sse_updating"


def _apply_sse(handler, specification):
    table = handler.dynamodb_backend.get_table(handler.body["TableName"])
    if not specification.get("Enabled", True):
        table.sse_specification = None
        return
    if specification.get("SSEType", "KMS") != "KMS":
        raise MockValidationException("SSEType must be KMS")
    key_ref = specification.get("KMSMasterKeyId")
    if key_ref:
        key = find_key(handler.current_account, handler.region, key_ref)
        if key is None or key.key_state != "Enabled":
            raise MockValidationException(f"KMS key {key_ref} does not exist, is not enabled or is not accessible")
        arn = key.arn
    else:
        arn = table._get_default_encryption_key(handler.current_account, handler.region)
    current = (table.sse_specification or {}).get("KMSMasterKeyId")
    table.sse_specification = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn}
    if arn != current:
        setattr(table, _UPDATING, True)


def _update_table(original):
    @functools.wraps(original)
    def update_table(self):
        specification = self.body.get("SSESpecification")
        if specification:
            _apply_sse(self, specification)
        return original(self)
    return update_table


def _describe(original):
    @functools.wraps(original)
    def describe(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        if getattr(self, _UPDATING, False):
            setattr(self, _UPDATING, False)
            for body in answer.values():
                body["TableStatus"] = "UPDATING"
                if "SSEDescription" in body:
                    body["SSEDescription"]["Status"] = "UPDATING"
        return answer
    return describe


def install():
    global _installed
    if _installed:
        return
    DynamoHandler.update_table = _update_table(DynamoHandler.update_table)
    Table.describe = _describe(Table.describe)
    _installed = True
