#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_service_rekey
short_description: Move Secrets Manager, DynamoDB, SQS, SNS, Logs, Lambda, Kinesis and SSM resources to a new KMS key
version_added: 0.2.0
description:
  - For each resource in O(targets) (and, with O(discover=true), each one M(kmsrotate.aws.kms_key_usage_info)
    finds under O(source_key) in the region), changes the key the service uses from O(source_key) to
    O(destination_key) with the service's own API, and says what still needs the old key and until when.
  - "Secrets Manager: C(UpdateSecret) C(KmsKeyId); AWS re-encrypts the AWSCURRENT, AWSPENDING and AWSPREVIOUS
    versions. Older versions with other labels or none stay under the old key and are blocking RV(dependents)
    (inferred from the version list and the time of the change: AWS names no key per version). Secret values are
    never read. A secret naming its key by an alias is moved even when the alias names the destination now."
  - "DynamoDB: C(UpdateTable) C(SSESpecification), waiting for the table to be ACTIVE; the replicas of a global table
    under a multi-Region source key follow a multi-Region destination key (C(ReplicaUpdates)), else they block.
    On-demand backups made before the change block; point-in-time recovery needs the old key for its window."
  - "SQS: C(SetQueueAttributes) C(KmsMasterKeyId); needed until the data-key reuse period plus
    C(MessageRetentionPeriod) after the change (an empty queue does not shorten it: its counts are approximate)."
  - "SNS: C(SetTopicAttributes) C(KmsMasterKeyId); a topic stores nothing."
  - "CloudWatch Logs: C(AssociateKmsKey); needed until C(retentionInDays) after the change; a group without retention
    needs it for ever, which blocks."
  - "Lambda: C(UpdateFunctionConfiguration) C(KMSKeyArn) of C($LATEST), waiting for the update; published versions
    keep the old key and block."
  - "Kinesis Data Streams: C(StartStreamEncryption); needed until C(RetentionPeriodHours) after the change."
  - "SSM SecureString: only with O(allow_plaintext_on_controller=true) (the value is read and written again, under
    no_log); otherwise a plan and a blocking dependent."
  - "RDS and Aurora, EFS, ECR, EKS, Backup vaults, Redshift: never changed; a RV(plans) entry says what AWS requires,
    and the resource blocks."
  - Every resource whose key changes is tagged C(kmsrotate:rekeyed-from) (the source key ARN) and
    C(kmsrotate:rekeyed-at) (the change, ISO 8601 UTC) right after the change; the retirement gate dates what stays
    under the old key from them. A rerun keeps them.
  - A resource already under the destination key is left as it is (a rerun reports changed=false); one under neither
    key is not this rotation's and is left as it is too. Each resource ends as one RV(resources) entry, whatever
    happens to it; the task fails after all of them when one could not be read or moved (RV(resources[].action) is
    V(unknown)).
  - See docs/services.md for each service in detail.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  source_key:
    description:
      - The key to move away from, by key id, key ARN or alias.
    type: str
    required: true
  destination_key:
    description:
      - The key to move to, by key id, key ARN or alias; an Enabled symmetric encryption key of the same region.
    type: str
    required: true
  targets:
    description:
      - Resource ARNs to move. ARNs of another region are reported V(other_region) and left alone.
      - At least one of O(targets) and O(discover) is required.
    type: list
    elements: str
  discover:
    description:
      - Also move everything the finders of M(kmsrotate.aws.kms_key_usage_info) find under O(source_key) in the region
        (Secrets Manager, DynamoDB, SQS, SNS, Logs, Lambda, SSM; RDS and EFS get plans). Kinesis streams, ECR, EKS,
        Backup vaults and Redshift have no finder and must be named in O(targets).
    type: bool
  allow_plaintext_on_controller:
    description:
      - Move SSM SecureString parameters, which means reading each value in plaintext on the controller. The value is
        never in a result, a log or an error message; the task warns.
    type: bool
    default: false
  concurrency:
    description:
      - Maximum resources dealt with at a time, at least 1.
    default: 4
  wait_timeout:
    description:
      - Seconds to wait for one resource to finish its change (a DynamoDB table to be ACTIVE, a Lambda function's
        update, a Kinesis stream's encryption), at least 1.
    type: int
    default: 1800
notes:
  - Supports check mode (what would change, with the dates it would give; nothing is changed or tagged) and diff
    (the key of each resource before and after).
  - "Permissions: kms:DescribeKey and kms:CreateGrant/kms:Decrypt/kms:Encrypt/kms:GenerateDataKey* on both keys as
    each service needs them; secretsmanager:DescribeSecret, UpdateSecret, ListSecretVersionIds, TagResource;
    dynamodb:DescribeTable, UpdateTable, DescribeContinuousBackups, ListBackups, ListTagsOfResource, TagResource;
    sqs:GetQueueUrl, GetQueueAttributes, SetQueueAttributes, ListQueueTags, TagQueue; sns:GetTopicAttributes,
    SetTopicAttributes, ListTagsForResource, TagResource; logs:DescribeLogGroups, AssociateKmsKey,
    ListTagsForResource, TagResource; lambda:GetFunctionConfiguration, UpdateFunctionConfiguration,
    ListVersionsByFunction, ListTags, TagResource; kinesis:DescribeStreamSummary, DescribeStream (its waiter), StartStreamEncryption,
    ListTagsForStream, AddTagsToStream; ssm:DescribeParameters, GetParameterHistory, ListTagsForResource,
    AddTagsToResource, and GetParameter/PutParameter with O(allow_plaintext_on_controller); the describe call of each
    planned service; with O(discover), what M(kmsrotate.aws.kms_key_usage_info) reads."
extends_documentation_fragment:
  - kmsrotate.aws.concurrency
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: See what would move, and until when the old key is needed
  kmsrotate.aws.kms_service_rekey:
    source_key: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
    destination_key: alias/orders
    discover: true
  check_mode: true
  diff: true

- name: Move named resources
  kmsrotate.aws.kms_service_rekey:
    source_key: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
    destination_key: alias/orders
    targets:
      - arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders/db-AbCdEf
      - arn:aws:sqs:eu-west-1:111122223333:orders-events
      - arn:aws:logs:eu-west-1:111122223333:log-group:/orders/api
      - arn:aws:kinesis:eu-west-1:111122223333:stream/orders
  register: rekey
# rekey.needed_until: "2026-12-15T14:00:00Z" (the latest date any resource needs the old key), or "never"
"""

RETURN = r"""
resources:
  description: One entry per target (and per discovered resource), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    resource:
      description: The resource's ARN (a service name for a service discovery could not list).
      type: str
    service:
      description: The service, in M(kmsrotate.aws.kms_key_usage_info)'s names.
      type: str
    action:
      description:
        - V(moved) (in check mode, would be), V(unchanged) (already under the destination, or under neither key),
          V(planned) (not changed by this module; see RV(plans)), V(not_found), V(other_region), V(unknown) (could not
          be read or moved; blocks, and fails the task).
      type: str
    key_before:
      description: The key ARN the resource was under (as the service names it when KMS cannot resolve it).
      type: str
    key_after:
      description: The key ARN it is under after this run (in check mode, would be).
      type: str
    needed_until:
      description:
        - Until when the old key is needed for what this resource stored before the change (ISO 8601 UTC); null when
          not at all; V(never) when only someone's action ends it (see RV(dependents)).
      type: str
    rekeyed_at:
      description: When the key changed (this run, or the earlier run its markers record); in check mode, now.
      type: str
    reason:
      description: Why, in words, with the fix where there is one.
      type: str
    dependents:
      description: How many RV(dependents) entries this resource left.
      type: int
  sample:
    - resource: arn:aws:sqs:eu-west-1:111122223333:orders-events
      service: sqs
      action: moved
      key_before: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
      key_after: arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321
      needed_until: "2026-12-05T14:05:00Z"
      rekeyed_at: "2026-12-01T14:00:00Z"
      reason: moved from the source key to the destination key; the old key is needed until 2026-12-05T14:05:00Z
        for what was stored before.
      dependents: 0
dependents:
  description:
    - What still depends on the source key, in the vocabulary of every data-moving module of this collection
      (C(resource), C(service), C(kind) to_move/blocking/unknown/retained, C(reason), C(key_arn), C(count), some with
      C(examples)), for the retirement gate.
  returned: always
  type: list
  elements: dict
plans:
  description: What AWS requires to move each V(planned) resource.
  returned: always
  type: list
  elements: dict
  contains:
    resource:
      description: The resource's ARN.
      type: str
    service:
      description: Its service.
      type: str
    key_arn:
      description: The key it is under (the source key).
      type: str
    reason:
      description: Why this module does not change it.
      type: str
    steps:
      description: The steps, in order.
      type: list
      elements: str
needed_until:
  description: The latest RV(resources[].needed_until) (V(never) beats any date); null when no resource needs the old key.
  returned: always
  type: str
counts:
  description: Resources per RV(resources[].action).
  returned: always
  type: dict
  sample: {"moved": 3, "unchanged": 1, "planned": 1, "not_found": 0, "other_region": 0, "unknown": 0}
source_key_arn:
  description: ARN of O(source_key).
  returned: always
  type: str
destination_key_arn:
  description: ARN of O(destination_key).
  returned: always
  type: str
requests:
  description: HTTP requests sent per operation, every attempt including retries.
  returned: always
  type: dict
  sample: {"DescribeKey": 2, "DescribeSecret": 2, "UpdateSecret": 1, "TagResource": 1, "ListSecretVersionIds": 1}
throttling:
  description: How throttling affected the run.
  returned: always
  type: dict
  contains:
    throttle_events:
      description: Throttled requests, each retried.
      type: int
    concurrency:
      description: The configured O(concurrency).
      type: int
    lowest_concurrency:
      description: The lowest concurrency the module fell back to.
      type: int
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.rekey import ServiceRekey


def main():
    argument_spec = dict(
        source_key=dict(type="str", required=True, no_log=False),
        destination_key=dict(type="str", required=True, no_log=False),
        targets=dict(type="list", elements="str"),
        discover=dict(type="bool"),
        allow_plaintext_on_controller=dict(type="bool", default=False),
        concurrency=dict(type="int", default=4),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_one_of=[("targets", "discover")])
    run_module(module, ServiceRekey)


if __name__ == "__main__":
    main()
