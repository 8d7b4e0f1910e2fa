# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Find what depends on a KMS key, service by service, changing nothing.

Each service is one small finder in FINDERS: it lists the service's resources
with cheap describe calls and yields (resource type, id, ARN, key reference,
details). Matching the key reference against the key (by ARN, through a
KeyResolver: services store ids, aliases or ARNs) and deciding what is
movable by this collection happen once, here. Adding a service is one
finder and one line in FINDERS.

A service the caller may not read, or that fails, is reported `unknown` with
the reason: an unreadable service is never reported as empty, because that
is how a key gets disabled under a database nobody listed.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils.aws import error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils.concurrency import AdaptiveLimit, run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils.data_key_rewrap import DataKeyRewrapper, RewrapSpec
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils.key_strategy import iso_date
from ansible_collections.kmsrotate.aws.plugins.module_utils.keys import KeyResolver, is_key_arn

OK = "ok"
UNKNOWN = "unknown"
_NO_DEFAULT_ENCRYPTION = ("ServerSideEncryptionConfigurationNotFoundError", "NoSuchBucket")
_GONE = ("NoSuchBucket", "ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "NotFound",
         "QueueDoesNotExist")


def _pages(client, operation, key, **params):
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def _each(items, work, concurrency):
    """work(item) for every item through the bounded pool; the first error stops the finder."""
    for _item, result, error in run_bounded(items, work, AdaptiveLimit(concurrency)):
        if error is not None:
            raise error
        if result is not None:
            yield result


class _Context(object):
    """What one region's finders share: clients, options and listings read once."""

    def __init__(self, clients, region, key_arn, options):
        self.clients = clients
        self.region = region
        self.key_arn = key_arn
        self.options = options
        self._snapshots = None

    def client(self, service):
        return self.clients(service, self.region)

    def snapshots(self):
        if self._snapshots is None:
            self._snapshots = list(_pages(self.client("ec2"), "describe_snapshots", "Snapshots", OwnerIds=["self"]))
        return self._snapshots


# Finders: each yields (resource_type, id, arn, key_ref, details) for one service and region.

def _s3_buckets(ctx):
    s3 = ctx.client("s3")

    def default_key(bucket):
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket["Name"], aws_retry=True)[
                "ServerSideEncryptionConfiguration"]["Rules"]
        except Exception as exc:  # botocore errors: decided by their code
            if error_code(exc) in _NO_DEFAULT_ENCRYPTION:
                return None
            raise
        for rule in rules:
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            if default.get("KMSMasterKeyID"):
                return bucket["Name"], default["KMSMasterKeyID"], rule.get("BucketKeyEnabled", False)
        return None

    # A bucket is listed in every region; it is searched in its own (when S3 says which).
    buckets = (bucket for bucket in _pages(s3, "list_buckets", "Buckets")
               if bucket.get("BucketRegion", ctx.region) == ctx.region)
    for name, key_ref, bucket_key in _each(buckets, default_key, ctx.options["concurrency"]):
        yield "s3_bucket_default_encryption", name, "arn:aws:s3:::" + name, key_ref, {"bucket_key_enabled": bucket_key}


def _ebs_volumes(ctx):
    for volume in _pages(ctx.client("ec2"), "describe_volumes", "Volumes",
                         Filters=[{"Name": "encrypted", "Values": ["true"]}]):
        attachments = [{"instance_id": item.get("InstanceId"), "device": item.get("Device")}
                       for item in volume.get("Attachments", [])]
        yield "ebs_volume", volume["VolumeId"], None, volume.get("KmsKeyId"), {
            "state": volume.get("State"), "attachments": attachments}


def _ebs_snapshots(ctx):
    for snapshot in ctx.snapshots():
        if snapshot.get("Encrypted"):
            yield "ebs_snapshot", snapshot["SnapshotId"], None, snapshot.get("KmsKeyId"), {
                "volume_id": snapshot.get("VolumeId"), "description": snapshot.get("Description", "")}


def _ebs_default_key(ctx):
    ec2 = ctx.client("ec2")
    key_ref = ec2.get_ebs_default_kms_key_id(aws_retry=True).get("KmsKeyId")
    enabled = ec2.get_ebs_encryption_by_default(aws_retry=True).get("EbsEncryptionByDefault", False)
    yield "ebs_default_kms_key", ctx.region, None, key_ref, {"encryption_by_default": enabled}


def _amis(ctx):
    snapshot_keys = dict((snapshot["SnapshotId"], snapshot.get("KmsKeyId")) for snapshot in ctx.snapshots())
    for image in _pages(ctx.client("ec2"), "describe_images", "Images", Owners=["self"]):
        for mapping in image.get("BlockDeviceMappings", []):
            ebs = mapping.get("Ebs") or {}
            key_ref = ebs.get("KmsKeyId") or snapshot_keys.get(ebs.get("SnapshotId"))
            if key_ref:
                yield "ami", image["ImageId"], None, key_ref, {
                    "name": image.get("Name"), "snapshot_id": ebs.get("SnapshotId"), "device": mapping.get("DeviceName")}


def _rds_instances(ctx):
    for instance in _pages(ctx.client("rds"), "describe_db_instances", "DBInstances"):
        yield "rds_db_instance", instance["DBInstanceIdentifier"], instance.get("DBInstanceArn"), \
            instance.get("KmsKeyId"), {"engine": instance.get("Engine")}


def _rds_clusters(ctx):
    for cluster in _pages(ctx.client("rds"), "describe_db_clusters", "DBClusters"):
        yield "rds_db_cluster", cluster["DBClusterIdentifier"], cluster.get("DBClusterArn"), \
            cluster.get("KmsKeyId"), {"engine": cluster.get("Engine")}


def _efs(ctx):
    for file_system in _pages(ctx.client("efs"), "describe_file_systems", "FileSystems"):
        yield "efs_file_system", file_system["FileSystemId"], file_system.get("FileSystemArn"), \
            file_system.get("KmsKeyId"), {"name": file_system.get("Name")}


def _dynamodb(ctx):
    dynamodb = ctx.client("dynamodb")

    def table_key(name):
        try:
            table = dynamodb.describe_table(TableName=name, aws_retry=True)["Table"]
        except Exception as exc:  # botocore errors: decided by their code
            if error_code(exc) in _GONE:
                return None
            raise
        return name, table.get("TableArn"), (table.get("SSEDescription") or {}).get("KMSMasterKeyArn")

    for name, arn, key_ref in _each(_pages(dynamodb, "list_tables", "TableNames"), table_key,
                                    ctx.options["concurrency"]):
        yield "dynamodb_table", name, arn, key_ref, {}


def _secrets(ctx):
    for secret in _pages(ctx.client("secretsmanager"), "list_secrets", "SecretList"):
        yield "secretsmanager_secret", secret["Name"], secret.get("ARN"), secret.get("KmsKeyId"), {}


def _ssm_parameters(ctx):
    for parameter in _pages(ctx.client("ssm"), "describe_parameters", "Parameters",
                            ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}]):
        yield "ssm_parameter", parameter["Name"], parameter.get("ARN"), parameter.get("KeyId"), {}


def _lambda_functions(ctx):
    for function in _pages(ctx.client("lambda"), "list_functions", "Functions"):
        yield "lambda_function", function["FunctionName"], function.get("FunctionArn"), function.get("KMSKeyArn"), {}


def _attribute_keys(client, operation, handle_param, handles, concurrency, **params):
    """(handle, attributes) of each resource whose key is an attribute read one by one (SQS, SNS)."""
    def read(handle):
        call = dict(params)
        call[handle_param] = handle
        try:
            return handle, getattr(client, operation)(aws_retry=True, **call).get("Attributes", {})
        except Exception as exc:  # botocore errors: decided by their code
            if error_code(exc) in _GONE:
                return None
            raise
    return _each(handles, read, concurrency)


def _sqs_queues(ctx):
    sqs = ctx.client("sqs")
    for url, attributes in _attribute_keys(sqs, "get_queue_attributes", "QueueUrl",
                                           _pages(sqs, "list_queues", "QueueUrls"), ctx.options["concurrency"],
                                           AttributeNames=["QueueArn", "KmsMasterKeyId"]):
        yield "sqs_queue", url.rsplit("/", 1)[-1], attributes.get("QueueArn"), attributes.get("KmsMasterKeyId"), {
            "url": url}


def _sns_topics(ctx):
    sns = ctx.client("sns")
    topics = (topic["TopicArn"] for topic in _pages(sns, "list_topics", "Topics"))
    for arn, attributes in _attribute_keys(sns, "get_topic_attributes", "TopicArn", topics, ctx.options["concurrency"]):
        yield "sns_topic", arn.rsplit(":", 1)[-1], arn, attributes.get("KmsMasterKeyId"), {}


def _grants(ctx):
    """Grants on this region's copy of the key: principals allowed to use it."""
    for grant in _pages(ctx.client("kms"), "list_grants", "Grants", KeyId=ctx.key_arn):
        yield "kms_grant", grant.get("GrantId"), None, ctx.key_arn, {
            "grantee_principal": grant.get("GranteePrincipal"), "name": grant.get("Name"),
            "operations": grant.get("Operations", []), "retiring_principal": grant.get("RetiringPrincipal"),
            "creation_date": iso_date(grant.get("CreationDate"))}


def _log_groups(ctx):
    for group in _pages(ctx.client("logs"), "describe_log_groups", "logGroups"):
        yield "logs_log_group", group["logGroupName"], group.get("arn"), group.get("kmsKeyId"), {}


MOVABLE = "movable"
BLOCKING = "blocking"

# (service name in results, finder, whether this collection can move the resource to a new key)
FINDERS = (
    ("s3", _s3_buckets, True),
    ("ebs_volumes", _ebs_volumes, True),
    ("ebs_snapshots", _ebs_snapshots, True),
    ("ebs_default_key", _ebs_default_key, True),
    ("ami", _amis, False),
    ("rds_instances", _rds_instances, False),
    ("rds_clusters", _rds_clusters, False),
    ("efs", _efs, False),
    ("dynamodb", _dynamodb, False),
    ("secretsmanager", _secrets, False),
    ("ssm", _ssm_parameters, False),
    ("lambda", _lambda_functions, False),
    ("sqs", _sqs_queues, False),
    ("sns", _sns_topics, False),
    ("logs", _log_groups, False),
    ("grants", _grants, False),
)
SERVICES = tuple(name for name, _finder, _movable in FINDERS)


class _KeyMatcher(object):
    """Does a key reference a service stored name this region's copy of the key?"""

    def __init__(self, kms, key_arn):
        self._resolver = KeyResolver(kms)
        self.key_arn = key_arn

    def matches(self, key_ref):
        if not key_ref:
            return False
        if is_key_arn(key_ref):
            return key_ref == self.key_arn
        try:
            return self._resolver.arn(key_ref) == self.key_arn
        except RotationError:
            # A key this caller cannot see (another account, deleted) is not ours.
            return False


def _entry(service, region, movable, found):
    resource_type, resource_id, arn, key_ref, details = found
    entry = {"service": service, "resource_type": resource_type, "id": resource_id, "arn": arn, "region": region,
             "movable": movable, "key_reference": key_ref}
    entry.update(details)
    return entry


def _unreadable_reason(exc):
    code = error_code(exc)
    if code and ("AccessDenied" in code or code in ("UnauthorizedOperation", "AuthorizationError")):
        return "access denied: {0}".format(error_message(exc))
    return "could not be read: {0}".format(error_message(exc) if code else "{0}: {1}".format(type(exc).__name__, exc))


def _run_finder(service, finder, movable, ctx, matcher):
    try:
        found = [_entry(service, ctx.region, movable, item) for item in finder(ctx) if matcher.matches(item[3])]
    except Exception as exc:  # any failure makes the service unknown, never empty
        return {"status": UNKNOWN, "region": ctx.region, "reason": _unreadable_reason(exc), "resources": []}
    return {"status": OK, "region": ctx.region, "reason": None, "resources": found}


def key_last_usage(kms, key_arn):
    """GetKeyLastUsage in snake_case, or `available: false` with why (older endpoints lack it)."""
    try:
        answer = kms.get_key_last_usage(KeyId=key_arn)
    except Exception as exc:  # botocore errors, or an endpoint without the operation
        return {"available": False, "reason": _unreadable_reason(exc)}
    usage = answer.get("KeyLastUsage") or {}
    return {"available": True, "used": bool(usage), "operation": usage.get("Operation"),
            "timestamp": iso_date(usage.get("Timestamp")), "cloudtrail_event_id": usage.get("CloudTrailEventId"),
            "tracking_start_date": iso_date(answer.get("TrackingStartDate")),
            "key_creation_date": iso_date(answer.get("KeyCreationDate"))}


def _data_key_files(kms, key_info, paths, concurrency):
    """Blob files under the key: a check-mode re-wrap to the key itself tells each blob's key."""
    try:
        outcome = DataKeyRewrapper(kms, AdaptiveLimit(concurrency), check_mode=True).run(
            RewrapSpec(destination_key_id=key_info.arn, paths=paths))
    except RotationError as exc:
        return {"status": UNKNOWN, "region": key_info.region, "reason": str(exc), "resources": []}
    found = [{"service": "data_key_files", "resource_type": "data_key_file", "id": item["path"], "arn": None,
              "region": key_info.region, "movable": True, "key_reference": item["source_key_arn"]}
             for item in outcome["results"] if item.get("source_key_arn") == key_info.arn]
    failed = [item for item in outcome["results"] if item["action"] == "failed"]
    if failed:
        return {"status": UNKNOWN, "region": key_info.region, "resources": found,
                "reason": "{0} file(s) could not be read: {1}".format(
                    len(failed), "; ".join("{0}: {1}".format(item["path"], item["reason"]) for item in failed[:5]))}
    return {"status": OK, "region": key_info.region, "reason": None, "resources": found}


def _count_objects(s3, bucket, matcher, limit, concurrency):
    """Object versions of a bucket under the key, streamed, examining at most `limit` versions."""
    def examine(version):
        try:
            head = s3.head_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"], aws_retry=True)
        except Exception as exc:  # botocore errors: decided by their code
            if error_code(exc) in ("404", "NoSuchKey", "NoSuchVersion", "405"):
                return False
            raise
        return head.get("ServerSideEncryption") == "aws:kms" and matcher.matches(head.get("SSEKMSKeyId"))

    def versions():
        for count, version in enumerate(_pages(s3, "list_object_versions", "Versions", Bucket=bucket)):
            if count >= limit:
                return
            yield version

    scanned = under_key = 0
    for under in _each(versions(), examine, concurrency):
        scanned += 1
        under_key += 1 if under else 0
    return {"object_versions_scanned": scanned, "object_versions_under_key": under_key,
            "scan_truncated": scanned >= limit}


def _regions_to_search(key_info, regions):
    """Regions whose resources can use this key: a single-Region key serves only its own."""
    wanted = list(dict.fromkeys(regions or [key_info.region]))
    if key_info.multi_region:
        return wanted, []
    return [region for region in wanted if region == key_info.region], [
        region for region in wanted if region != key_info.region]


def _regional_arn(key_arn, region):
    parts = key_arn.split(":")
    parts[3] = region
    return ":".join(parts)


def discover_key_usage(clients, key_ref, regions=None, services=None, data_key_paths=None, scan_objects=False,
                       object_scan_limit=10000, concurrency=10):
    """Everything found to depend on the key, grouped by service; the module's whole job.

    `clients(service, region)` returns a retrying client. Makes no change.
    """
    home_kms = clients("kms", None)
    key_info = KeyResolver(home_kms).resolve(key_ref)
    searched, skipped_regions = _regions_to_search(key_info, regions)
    wanted = set(services or SERVICES)
    unknown_services = sorted(wanted - set(SERVICES))
    if unknown_services:
        raise RotationError("Unknown service(s) {0}.".format(", ".join(unknown_services)),
                            fix="choose from {0}.".format(", ".join(SERVICES)))
    options = {"concurrency": concurrency}
    by_service = {}
    for region in searched:
        ctx = _Context(clients, region, _regional_arn(key_info.arn, region), options)
        matcher = _KeyMatcher(clients("kms", region), ctx.key_arn)
        for service, finder, movable in FINDERS:
            if service not in wanted:
                continue
            outcome = _run_finder(service, finder, movable, ctx, matcher)
            if service == "s3" and scan_objects and outcome["status"] == OK:
                for bucket in outcome["resources"]:
                    bucket.update(_count_objects(ctx.client("s3"), bucket["id"], matcher, object_scan_limit,
                                                 concurrency))
            by_service.setdefault(service, []).append(outcome)
    if data_key_paths:
        by_service["data_key_files"] = [_data_key_files(home_kms, key_info, data_key_paths, concurrency)]
    return _summary(key_info, searched, skipped_regions, by_service, key_last_usage(home_kms, key_info.arn))


def _summary(key_info, searched, skipped_regions, by_service, last_usage):
    services = {}
    resources = []
    unknown = []
    for service, outcomes in by_service.items():
        found = [entry for outcome in outcomes for entry in outcome["resources"]]
        unreadable = [outcome for outcome in outcomes if outcome["status"] == UNKNOWN]
        services[service] = {
            "status": UNKNOWN if unreadable else OK,
            "reasons": ["{0}: {1}".format(outcome["region"], outcome["reason"]) for outcome in unreadable],
            "count": len(found),
            "resources": found,
        }
        if unreadable:
            unknown.append(service)
        resources.extend(found)
    movable = [entry for entry in resources if entry["movable"]]
    blocking = [entry for entry in resources if not entry["movable"]]
    return {
        "changed": False,
        "key_arn": key_info.arn,
        "key_id": key_info.key_id,
        "key_state": key_info.state,
        "key_manager": key_info.key_manager,
        "regions": searched,
        "regions_skipped": skipped_regions,
        "services": services,
        "resources": resources,
        "in_use": len(resources),
        "movable": len(movable),
        "movable_resources": movable,
        "blocking": len(blocking),
        "blocking_resources": blocking,
        "unknown_services": sorted(unknown),
        "unknown": len(unknown),
        "safe_to_retire": not resources and not unknown,
        "last_usage": last_usage,
    }
