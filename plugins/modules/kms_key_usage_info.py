#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_key_usage_info
short_description: Find everything that depends on a KMS key, and whether this collection can move it
version_added: 0.1.0
description:
  - Looks for resources that use a KMS key, service by service, with cheap list and describe calls, and returns
    them grouped by service. Each entry has its id, ARN, region and whether this collection can move it to a new key
    (C(movable)).
  - Movable here are S3 bucket default encryption (with O(scan_objects=true), also the number of object versions
    under the key), EBS volumes and snapshots, the region's EBS default key, and data-key files given in
    O(data_key_paths).
  - Not movable here are RDS instances and clusters, EFS file systems, DynamoDB tables, Secrets Manager secrets, SSM
    C(SecureString) parameters, Lambda functions, SQS queues, SNS topics, CloudWatch Logs groups, AMIs (through
    their snapshots) and grants on the key. They are reported as RV(blocking) the retirement of the key.
  - A service the caller may not read, or that fails, is reported with status C(unknown) and the reason. It is
    never reported as empty. RV(safe_to_retire) is true only when nothing was found and no service is unknown
    (less the services in O(ignore_services)).
  - With O(for_retirement=true) it is a rotation's retirement gate, as the C(verify) phase of the
    C(kmsrotate.aws.rotation) role uses it. It merges what the rotation's own re-checks report
    (O(known_dependents)) with what discovery finds and with its own look at the targets and at the key's use, and
    answers RV(holding_back) and RV(safe_to_retire). A resource a re-check reported on is judged by that re-check
    (a C(retained) one does not hold the key back), except a volume reported C(retained) that discovery finds
    attached to an instance, which is in use again and blocks. A resource found under the key that is among
    O(targets), or a data-key file of O(data_key_paths), is the rotation's to move. Anything else found holds the
    key back. In check mode, what the rotation's own phases would still move does not hold it back, since a real
    run moves it before the gate.
  - The gate never inherits how a phase was narrowed. For every bucket of O(targets) it reads every object version
    (C(ListObjectVersions) and one C(HeadObject) per version, up to O(retirement_scan_limit)), whatever prefix or
    versions its phase was given; the narrowing given in O(targets) only tells which versions still under the key
    this run's phase moves (in check mode they do not hold the key back) and which it never will (they hold it, in
    every mode). A version whose encryption cannot be read is C(unknown); a bare C(400) from C(HeadObject) counts as
    SSE-C only when a one-byte C(GetObject) confirms it. A bucket with more versions than O(retirement_scan_limit) is
    C(unknown) (too large for one run). EBS volumes and snapshots are all listed, whatever the phase's filters, and
    AMIs through their snapshots.
  - A resource that names the key through an alias of O(alias_history) depends on the key, unless its service
    shows the data re-encrypted since the alias moved (see the notes). Without O(alias_history), such a resource is
    matched only by what its alias names now.
  - With O(rotation_started_at), a use of the key since the rotation started by anyone but this run's own caller
    holds the key back (see the notes on C(GetKeyLastUsage) and CloudTrail).
  - Also returns the key's last cryptographic use (C(GetKeyLastUsage)) where the endpoint supports it.
  - Makes no change. The C(verify) phase of the C(kmsrotate.aws.rotation) role uses it before retiring a key.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  regions:
    description:
      - Regions to search. A single-Region key can only be used in its own region, so other regions are skipped
        for it and listed in RV(regions_skipped). A multi-Region key is searched in each region under its replica
        there.
      - Defaults to the key's region.
    type: list
    elements: str
    default: []
  services:
    description:
      - Only search these services. Defaults to all of them.
    type: list
    elements: str
    choices: [s3, ebs_volumes, ebs_snapshots, ebs_default_key, ami, rds_instances, rds_clusters, efs, dynamodb,
              secretsmanager, ssm, lambda, sqs, sns, logs, grants]
    default: []
  data_key_paths:
    description:
      - Files or glob patterns holding KMS ciphertext blobs (data keys), as M(kmsrotate.aws.kms_data_key_rewrap)
        takes them. Each blob's key is learnt with C(ReEncrypt) to the key itself, which changes nothing and never
        exposes plaintext. This needs the key to be enabled.
    type: list
    elements: path
    default: []
  scan_objects:
    description:
      - For each bucket whose default encryption uses the key, count the object versions under the key with one
        C(HeadObject) per version, streamed, up to O(object_scan_limit) versions per bucket.
    type: bool
    default: false
  object_scan_limit:
    description:
      - The most object versions examined per bucket with O(scan_objects=true), at least 1.
    type: int
    default: 10000
  for_retirement:
    description:
      - Decide as a rotation's retirement gate (see the description), from O(known_dependents) and O(targets).
    type: bool
    default: false
  known_dependents:
    description:
      - With O(for_retirement=true), the RV(kmsrotate.aws.kms_data_key_rewrap#module:dependents),
        RV(kmsrotate.aws.s3_kms_recopy#module:dependents) and RV(kmsrotate.aws.ebs_kms_migrate#module:dependents)
        of the rotation's targets, re-checked by their modules in check mode.
    type: list
    elements: dict
    default: []
  targets:
    description:
      - With O(for_retirement=true), the resources the rotation's phases move, named as RV(dependents) names them
        (C(s3://<bucket>), volume and snapshot ids).
      - An entry is a name, or a dict with C(resource) (the name) and, for a bucket, how its phase was narrowed, in
        C(prefix) (default V("")) and C(versions) (V(all), the default, or V(current)) as given to
        M(kmsrotate.aws.s3_kms_recopy). Every version of the bucket is examined either way; the narrowing only
        tells which versions this run's phase moves.
    type: list
    elements: raw
    default: []
  alias_history:
    description:
      - With O(for_retirement=true), every alias that pointed at the key during the rotation, recorded before
        anything moved, as dicts with C(alias_name) (V(alias/<name>)) and C(until), the ISO 8601 UTC time it stopped
        pointing at the key (V(null) while it still does).
      - A resource whose stored key reference is such an alias (by name or alias ARN, in the key's own region)
        depends on the key unless its service shows its data re-encrypted since (see the notes).
    type: list
    elements: dict
    default: []
  rotation_started_at:
    description:
      - With O(for_retirement=true), when the rotation began, as an ISO 8601 time with its zone (V(2026-12-01T10:00:00Z)).
      - Uses of the key after it by callers other than this run's own identity hold the key back (see the notes).
    type: str
  retirement_scan_limit:
    description:
      - With O(for_retirement=true), the most items one full look examines, at least 1; each target bucket's object
        versions, and the CloudTrail events naming the key since O(rotation_started_at).
      - Above it the look is C(unknown) ("too large for one run") and holds the key back.
    type: int
    default: 1000000
  s3_verify:
    description:
      - With O(for_retirement=true), how the gate looks at each target bucket. V(scan) reads every version (up to
        O(retirement_scan_limit)).
      - V(batch) uses the residue proof. An S3 Batch Operations job is created with C(ConfirmationRequired) and the
        manifest generator filtered by the key. Once S3 has prepared it (C(Suspended)), its task count is read and the
        job is cancelled, so no task ever runs. A bucket whose count is zero is not a dependent; one with residue is
        C(blocking) with the count. The generator may list current versions only (AWS does not document noncurrent
        ones), so in a versioned bucket the noncurrent versions are still read one by one (up to
        O(retirement_scan_limit)) and stay C(unknown) beyond it. Check mode creates no job, so the bucket is then
        C(unknown).
      - V(auto) uses V(batch) when O(batch_role_arn) and O(batch_report_bucket) are given and the bucket's estimated
        versions reach O(batch_threshold_versions), and V(scan) otherwise.
    type: str
    choices: [scan, batch, auto]
    default: auto
  batch_role_arn:
    description:
      - The role S3 Batch Operations assumes for the residue proof (see M(kmsrotate.aws.s3_kms_recopy) and
        docs/s3_batch.md).
    type: str
  batch_report_bucket:
    description:
      - The bucket where the residue proof job writes its manifest.
    type: str
  batch_report_prefix:
    description:
      - The key prefix of the proof job's manifest in O(batch_report_bucket).
    type: str
    default: kmsrotate-batch
  batch_priority:
    description:
      - The proof job's priority.
    type: int
    default: 10
  batch_threshold_versions:
    description:
      - With O(s3_verify=auto), the estimated versions from which a bucket is verified with the residue proof
        (CloudWatch C(AWS/S3 NumberOfObjects), or a listing capped at 10,000 versions).
    type: int
    default: 1000000
  batch_poll_interval:
    description:
      - Seconds between two C(DescribeJob) calls while S3 prepares the proof job's manifest.
    type: int
    default: 15
  ignore_services:
    description:
      - Services (the O(services) names, C(data_key_files), or C(last_usage) for uses of the key since
        O(rotation_started_at)) whose findings do not hold the key back, for example C(grants) when the grants of
        retained volumes remain. They are still listed in RV(services).
    type: list
    elements: str
    choices: [s3, ebs_volumes, ebs_snapshots, ebs_default_key, ami, rds_instances, rds_clusters, efs, dynamodb,
              secretsmanager, ssm, lambda, sqs, sns, logs, grants, data_key_files, last_usage]
    default: []
  concurrency:
    description:
      - Maximum requests in flight for per-resource calls (bucket encryption, tables, queues, objects), at least 1.
        The module halves it while AWS throttles and grows it back by one after a run of clean successes, so a
        throttled run slows down instead of failing.
    default: 10
notes:
  - Read-only permissions needed are C(kms:DescribeKey), C(kms:ListGrants), C(kms:GetKeyLastUsage),
    C(s3:ListAllMyBuckets), C(s3:GetEncryptionConfiguration), C(ec2:DescribeVolumes), C(ec2:DescribeSnapshots),
    C(ec2:DescribeImages), C(ec2:GetEbsDefaultKmsKeyId), C(ec2:GetEbsEncryptionByDefault), C(rds:DescribeDBInstances),
    C(rds:DescribeDBClusters), C(elasticfilesystem:DescribeFileSystems), C(dynamodb:ListTables),
    C(dynamodb:DescribeTable), C(secretsmanager:ListSecrets), C(ssm:DescribeParameters), C(lambda:ListFunctions),
    C(sqs:ListQueues), C(sqs:GetQueueAttributes), C(sns:ListTopics), C(sns:GetTopicAttributes) and
    C(logs:DescribeLogGroups). Without one, that service is reported C(unknown).
  - With O(for_retirement=true) the gate also needs C(s3:GetBucketLocation), C(s3:ListBucketVersions) and
    C(s3:GetObject) on the target buckets (C(HeadObject), and the one-byte C(GetObject) that confirms SSE-C); with
    O(alias_history), C(secretsmanager:ListSecretVersionIds) and C(ssm:GetParameterHistory); with
    O(rotation_started_at), C(cloudtrail:LookupEvents) (C(sts:GetCallerIdentity) needs no permission).
  - "Re-encrypted since, per service (a resource referencing an alias of O(alias_history) that moved at C(until)):
    a Secrets Manager secret, when every version with a staging label was created after C(until) (versions without
    a label are not counted); an SSM C(SecureString) parameter, when its current version and every labelled version
    were written after C(until) or under another key (each version of C(GetParameterHistory) names its key); an SQS
    queue, when its C(KmsDataKeyReusePeriodSeconds) plus C(MessageRetentionPeriod) have passed since C(until). No
    other service shows it: any other resource referencing such an alias holds the key until it names another key by
    id or ARN, or is moved by its own procedure. A bucket of O(targets) is judged by its versions instead."
  - "Uses since the rotation started (O(rotation_started_at)): AWS states that C(GetKeyLastUsage) can lag by up to an
    hour, and that CloudTrail, not last usage, is the authority on a key's use. When last usage reports a use at or
    after the start, the gate reads CloudTrail (C(LookupEvents)) since the start: each successful cryptographic use
    by a caller other than this run's identity (C(GetCallerIdentity), an assumed role's session and role alike)
    holds the key back, naming the caller, the operation and the time. If CloudTrail cannot be read, or does not
    show yet the event last usage reports (CloudTrail delivers events up to about 15 minutes late), that use is
    C(unknown) and holds, saying when to look again. When last usage reports a last use before the start, that holds
    nothing; since last usage may miss the last hour, CloudTrail is read over the part of the rotation within that
    hour, and a use by another caller there holds; if CloudTrail cannot be read, RV(last_usage.finding) says that
    hour was not examined. When C(GetKeyLastUsage) is not available, RV(last_usage.available) is false and that alone
    holds nothing: CloudTrail since the start is read if it can be. What happened in the last minutes before the
    gate ran cannot be seen yet by either, which is why a key is disabled before it is deleted."
  - "Resources moved away from the key (O(for_retirement=true)): M(kmsrotate.aws.kms_service_rekey) tags each resource
    whose key it changed C(kmsrotate:rekeyed-from) (the source key's ARN) and C(kmsrotate:rekeyed-at) (the time, UTC).
    Such a resource no longer names the key, but what it stored before may still need it. In every region searched,
    the gate lists the SQS queues, SNS topics, CloudWatch Logs groups, Kinesis streams, Secrets Manager secrets,
    DynamoDB tables and SSM C(SecureString) parameters, reads their tags, and for each one moved away from the key
    applies kms_service_rekey's own rule for its service, with the resource's retention as it is now. An SQS queue
    holds the key until the change plus C(KmsDataKeyReusePeriodSeconds) plus C(MessageRetentionPeriod); a log group
    until the change plus C(retentionInDays) days, and for ever without a retention (set one, or export and delete
    the old events); a Kinesis stream until the change plus C(RetentionPeriodHours); a DynamoDB table with
    point-in-time recovery until its recovery window has passed. Each date is widened by 5 minutes (the tag was
    written on the controller's clock) and is one C(blocking) dependent naming the resource and the date; the
    latest is RV(needed_until). A run after that date lets the key through with no more work."
  - "What never ages out blocks until someone acts (RV(needed_until) C(never)): a log group without retention;
    Secrets Manager versions created before the change that carry none of the labels C(AWSCURRENT), C(AWSPENDING),
    C(AWSPREVIOUS) (C(UpdateSecret) re-encrypts only those; no API names a version's key, so this is inferred from
    the version list and the time of the change, and a version that lost such a label since counts too); DynamoDB
    on-demand backups made before the change; labelled SSM history versions under the key. Lambda published versions
    keep the key they were published with: every function's versions are listed (C(ListVersionsByFunction)),
    tagged or not, and each one whose C(KMSKeyArn) is the key is C(blocking)."
  - "A service whose resources cannot be listed, a resource whose tags, retention or history cannot be read, or a
    C(kmsrotate:rekeyed-at) that is not a time, is C(unknown), and holds. This look needs C(sqs:ListQueueTags),
    C(sns:ListTagsForResource), C(logs:ListTagsForResource), C(kinesis:ListStreams), C(kinesis:ListTagsForStream),
    C(kinesis:DescribeStreamSummary), C(secretsmanager:DescribeSecret), C(secretsmanager:ListSecretVersionIds),
    C(dynamodb:ListTagsOfResource), C(dynamodb:DescribeContinuousBackups), C(dynamodb:ListBackups),
    C(ssm:ListTagsForResource), C(ssm:GetParameterHistory), C(lambda:ListVersionsByFunction) and
    C(sts:GetCallerIdentity), besides the read permissions above."
  - Discovery sees the resources these calls show. It cannot see data encrypted client-side with the key outside
    the named files, nor objects under the key in buckets that are neither targets nor defaulting to the key (use
    O(scan_objects) on those). Check RV(last_usage) and CloudTrail before deleting a key.
  - Supports check mode; it never changes anything.
extends_documentation_fragment:
  - kmsrotate.aws.key
  - kmsrotate.aws.concurrency
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: What still uses the old key?
  kmsrotate.aws.kms_key_usage_info:
    key_id: alias/my-key
  register: usage

- name: Refuse to go on while something this collection cannot move uses the key
  ansible.builtin.assert:
    that: usage.blocking == 0 and usage.unknown == 0
    fail_msg: "{{ usage.blocking_resources | map(attribute='arn') | list }} / unknown: {{ usage.unknown_services }}"

- name: Count object versions under the key too, and look at data-key files
  kmsrotate.aws.kms_key_usage_info:
    key_id: arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab
    regions: [us-east-1, eu-west-1]
    scan_objects: true
    object_scan_limit: 50000
    data_key_paths:
      - /etc/myapp/keys/*.key

- name: Decide as a rotation's retirement gate, whatever its phases were narrowed to
  kmsrotate.aws.kms_key_usage_info:
    key_id: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
    for_retirement: true
    targets:
      - resource: s3://orders
        prefix: incoming/
        versions: current
      - vol-0123456789abcdef0
    alias_history:
      - alias_name: alias/orders
        until: "2026-12-01T10:00:00Z"
    rotation_started_at: "2026-12-01T09:55:00Z"
  register: gate
"""

RETURN = r"""
key_arn:
  description: The key ARN.
  returned: always
  type: str
key_id:
  description: The key id.
  returned: always
  type: str
key_state:
  description: The key state.
  returned: always
  type: str
key_manager:
  description: C(CUSTOMER) or C(AWS).
  returned: always
  type: str
regions:
  description: The regions searched.
  returned: always
  type: list
  elements: str
regions_skipped:
  description: Regions asked for but not searched, because a single-Region key cannot be used there.
  returned: always
  type: list
  elements: str
services:
  description:
    - Per service searched, its status and what was found. Keys are the O(services) names, plus C(data_key_files)
      when O(data_key_paths) was given.
  returned: always
  type: dict
  contains:
    status:
      description: C(ok), or C(unknown) when the service could not be read in some region.
      type: str
    reasons:
      description: Why the service is unknown, per region.
      type: list
      elements: str
    count:
      description: Resources found using the key.
      type: int
    resources:
      description: The resources found (see RV(resources)).
      type: list
      elements: dict
  sample:
    rds_instances:
      status: unknown
      reasons: ["us-east-1: access denied: AccessDenied: not authorized to perform rds:DescribeDBInstances"]
      count: 0
      resources: []
resources:
  description: Every resource found using the key, across services.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The service key in RV(services).
      type: str
    resource_type:
      description:
        - C(s3_bucket_default_encryption), C(ebs_volume), C(ebs_snapshot), C(ebs_default_kms_key), C(data_key_file),
          C(ami), C(rds_db_instance), C(rds_db_cluster), C(efs_file_system), C(dynamodb_table),
          C(secretsmanager_secret), C(ssm_parameter), C(lambda_function), C(lambda_function_version) (a published
          version), C(sqs_queue), C(sns_topic), C(logs_log_group) or C(kms_grant).
      type: str
    version:
      description: For a Lambda published version, its version number.
      type: str
    id:
      description: The resource's name or id (bucket name, volume id, path, grant id, region for the EBS default).
      type: str
    arn:
      description: Its ARN, where the service gives one.
      type: str
    region:
      description: Its region.
      type: str
    movable:
      description: Whether this collection can move it to a new key.
      type: bool
    key_reference:
      description: The key reference as the service stores it (id, alias or ARN).
      type: str
    grantee_principal:
      description: For a grant, who it allows to use the key.
      type: str
    object_versions_under_key:
      description: For a bucket with O(scan_objects=true), object versions under the key.
      type: int
    object_versions_scanned:
      description: For a bucket with O(scan_objects=true), object versions examined.
      type: int
    object_versions_unreadable:
      description: For a bucket with O(scan_objects=true), object versions whose encryption could not be read.
      type: int
    scan_truncated:
      description: For a bucket with O(scan_objects=true), whether O(object_scan_limit) stopped the scan.
      type: bool
    alias_reference:
      description:
        - For a resource that names the key through an alias of O(alias_history), which alias, until when it pointed
          at the key, why the resource still depends on the key, and whether that could be read.
      type: dict
      contains:
        alias_name:
          description: The alias.
          type: str
        until:
          description: When it stopped pointing at the key (ISO 8601), or null while it still does.
          type: str
        reason:
          description: Why the resource still holds data under the key.
          type: str
        unreadable:
          description: Whether the service's evidence could not be read (the resource is then C(unknown)).
          type: bool
in_use:
  description: The number of resources found using the key.
  returned: always
  type: int
movable:
  description: The number of resources found that this collection can move.
  returned: always
  type: int
movable_resources:
  description: Those resources.
  returned: always
  type: list
  elements: dict
blocking:
  description: The number of resources found using the key that this collection cannot move. Each blocks retirement.
  returned: always
  type: int
  sample: 2
blocking_resources:
  description: Those resources.
  returned: always
  type: list
  elements: dict
  sample:
    - service: rds_instances
      resource_type: rds_db_instance
      id: orders
      arn: arn:aws:rds:us-east-1:111122223333:db:orders
      region: us-east-1
      movable: false
      key_reference: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
unknown:
  description: The number of services that could not be read.
  returned: always
  type: int
unknown_services:
  description: The services that could not be read. What they hold is unknown, not empty.
  returned: always
  type: list
  elements: str
safe_to_retire:
  description:
    - True only when nothing holds the key back (RV(holding_back) is empty).
    - Without O(for_retirement), that is when nothing was found using the key and every service could be read (less
      O(ignore_services)).
  returned: always
  type: bool
holding_back:
  description:
    - The RV(dependents) that hold the key's retirement back, each with a printable C(line).
  returned: always
  type: list
  elements: dict
needed_until:
  description:
    - With O(for_retirement=true), until when resources moved away from the key by
      M(kmsrotate.aws.kms_service_rekey) still need it for data that ages out (the latest C(needed_until) of
      RV(holding_back), ISO 8601 UTC); V(never) when one of them holds data that never ages out (see the notes);
      null when none of them holds the key (other dependents may still hold it, see RV(safe_to_retire)).
  returned: always
  type: str
  sample: "2026-12-05T14:10:00Z"
dependents_by_kind:
  description: How many RV(dependents) there are of each kind.
  returned: always
  type: dict
  sample: {"to_move": 0, "blocking": 1, "unknown": 0, "retained": 2}
last_usage:
  description: The key's last successful cryptographic operation (C(GetKeyLastUsage)).
  returned: always
  type: dict
  contains:
    available:
      description: Whether the endpoint answered C(GetKeyLastUsage).
      type: bool
    reason:
      description: Why it is not available.
      type: str
    used:
      description: Whether the key was used since tracking started.
      type: bool
    operation:
      description: The last operation, for example C(Decrypt).
      type: str
    timestamp:
      description: When (ISO 8601).
      type: str
    cloudtrail_event_id:
      description: The CloudTrail event of that operation.
      type: str
    tracking_start_date:
      description: Since when KMS tracks usage of this key (ISO 8601).
      type: str
    key_creation_date:
      description: When the key was created (ISO 8601).
      type: str
    rotation_started_at:
      description: O(rotation_started_at), in UTC. Only with O(rotation_started_at), as the keys below.
      type: str
    examined_since:
      description:
        - Since when CloudTrail was read for uses of the key (the start, or the last hour of the rotation when last
          usage shows no use since the start).
      type: str
    cloudtrail_read:
      description: Whether CloudTrail could be read.
      type: bool
    cloudtrail_events:
      description: How many CloudTrail events naming the key were examined.
      type: int
    foreign_uses:
      description: How many of them were successful cryptographic uses by callers other than this run's.
      type: int
    finding:
      description: What the gate concluded about the key's use since the rotation started, in words.
      type: str
dependents:
  description:
    - What depends on the key, in the vocabulary every data-moving module of this collection returns, for the
      retirement gate of the C(kmsrotate.aws.rotation) role.
    - One entry per resource in RV(resources), C(to_move) when this collection can move it, else C(blocking); and one
      C(unknown) entry per service in RV(unknown_services) (less O(ignore_services)).
    - With O(for_retirement=true), also the O(known_dependents), which speak for the resources they name (their
      C(retained) entries included); the gate's own entries for each target bucket (service C(s3), one per class of
      version still under the key, with C(examples)); and one entry per caller that used the key since
      O(rotation_started_at) (service C(last_usage), C(resource) the caller's ARN), or a C(last_usage) C(unknown) entry
      naming the key when that use could not be told; and one entry per resource moved away from the key whose old
      data still needs it (with RV(dependents[].needed_until), service C(kinesis) for streams), or C(unknown) when that
      could not be read.
  returned: always
  type: list
  elements: dict
  contains:
    resource:
      description:
        - A bucket as C(s3://<name>); an EBS volume, snapshot or AMI by its id; a data-key file by its path; anything
          else by its ARN, or its id when it has none (a grant, the region for the EBS default key).
        - For an C(unknown) entry, the service name.
      type: str
    service:
      description: The service key in RV(services).
      type: str
    kind:
      description: C(to_move), C(blocking), C(unknown) or (from O(known_dependents)) C(retained).
      type: str
    reason:
      description: Why it depends on the key, or why the service could not be read.
      type: str
    key_arn:
      description:
        - The key the resource was found under, as its region knows it (for a multi-Region key, its replica's ARN
          there). For an C(unknown) entry, RV(key_arn).
      type: str
    count:
      description:
        - How many items the entry stands for. For a bucket scanned with O(scan_objects=true), the object versions
          under the key (at least 1); else 1.
      type: int
    planned:
      description: Whether the rotation's own phases move it (only with O(for_retirement=true)).
      type: bool
    needed_until:
      description:
        - For a resource moved away from the key (only with O(for_retirement=true)), until when its old data needs
          the key (ISO 8601 UTC), V(never) for data that does not age out, or null.
      type: str
    examples:
      description: For an entry standing for several object versions, a few of them as C(key (version id)).
      type: list
      elements: str
    attached_to:
      description: For an EBS volume found attached, the instances it is attached to.
      type: list
      elements: str
    line:
      description: The entry on one line, as the rotation role prints it.
      type: str
  sample:
    - resource: arn:aws:rds:us-east-1:111122223333:db:orders
      service: rds_instances
      kind: blocking
      reason: rds_instances rds_db_instance uses the key; this collection cannot move it
      key_arn: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
      count: 1
    - resource: s3://orders-archive
      service: s3
      kind: to_move
      reason: s3 s3_bucket_default_encryption uses the key; this collection can move it
      key_arn: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
      count: 1
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import IGNORABLE, SERVICES, KeyUsageDiscovery


def main():
    argument_spec = dict(
        key_id=dict(type="str", required=True),
        regions=dict(type="list", elements="str", default=[]),
        services=dict(type="list", elements="str", choices=list(SERVICES), default=[]),
        data_key_paths=dict(type="list", elements="path", default=[], no_log=False),
        scan_objects=dict(type="bool", default=False),
        object_scan_limit=dict(type="int", default=10000),
        for_retirement=dict(type="bool", default=False),
        known_dependents=dict(type="list", elements="dict", default=[]),
        targets=dict(type="list", elements="raw", default=[]),
        alias_history=dict(type="list", elements="dict", default=[]),
        rotation_started_at=dict(type="str"),
        retirement_scan_limit=dict(type="int", default=1000000),
        s3_verify=dict(type="str", choices=["scan", "batch", "auto"], default="auto"),
        batch_role_arn=dict(type="str"),
        batch_report_bucket=dict(type="str"),
        batch_report_prefix=dict(type="str", default="kmsrotate-batch"),
        batch_priority=dict(type="int", default=10),
        batch_threshold_versions=dict(type="int", default=1000000),
        batch_poll_interval=dict(type="int", default=15),
        ignore_services=dict(type="list", elements="str", choices=list(IGNORABLE), default=[]),
        concurrency=dict(type="int", default=10),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, KeyUsageDiscovery)


if __name__ == "__main__":
    main()
