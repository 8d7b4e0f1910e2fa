# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The planner of ebs_kms_migrate: find the volumes and snapshots in scope and decide what each one needs.

It only reads (DescribeVolumes, DescribeSnapshots, DescribeInstances,
DescribeKey) and returns one VolumePlan per volume and one SnapshotPlan per
snapshot, with the action the run would take. Check mode reports exactly these.
"""

from ansible_collections.amazon.aws.plugins.module_utils.transformation import ansible_dict_to_boto3_filter_list

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import REPLACED_BY_TAG, SOURCE_VOLUME_TAG
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import SWAP_TAG, SwapRecord, tags_of

# Volume and snapshot actions. MIGRATED/REKEYED are what a run does (or, in
# check mode, would do); the others are decided by planning alone.
MIGRATED = "migrated"
REKEYED = "rekeyed"
UNCHANGED = "unchanged"
RETAINED = "retained"
SKIPPED = "skipped"
NEEDS_STOP = "needs_stop"
FAILED = "failed"

# DescribeInstances accepts at most this many ids per call.
_INSTANCE_BATCH = 200
_STOPPABLE_STATES = ("running", "stopped")


def _listing(ec2, operation, result_key, ids_param, ids, filters, resource_kind, extra=None):
    """Union of the resources named by id and those matching the filters, each once, in listing order."""
    found = {}
    queries = []
    if ids:
        queries.append({ids_param: list(ids)})
    if filters:
        queries.append(dict(extra or {}, Filters=ansible_dict_to_boto3_filter_list(filters)))
    for params in queries:
        try:
            for item in items(ec2, operation, result_key, **params):
                found.setdefault(item[result_key[:-1] + "Id"], item)
        except ClientError as exc:
            # EC2 answers an unknown id with <Resource>.NotFound, a malformed one with InvalidParameterValue.
            if is_error(exc, NOT_FOUND, codes=("InvalidParameterValue",)):
                raise RotationError("{0} not found: {1}".format(resource_kind, exc), resource=", ".join(ids or []),
                                    fix="check the {0} ids and the region.".format(resource_kind))
            raise
    return list(found.values())


def list_volumes(ec2, volume_ids, filters):
    return _listing(ec2, "describe_volumes", "Volumes", "VolumeIds", volume_ids, filters, "EBS volume")


def list_snapshots(ec2, snapshot_ids, filters):
    # Filters only ever look at the account's own snapshots, never public ones.
    snapshots = _listing(ec2, "describe_snapshots", "Snapshots", "SnapshotIds", snapshot_ids, filters,
                         "EBS snapshot", extra={"OwnerIds": ["self"]})
    # This module's own temporary snapshots are never re-keyed as targets.
    return [snapshot for snapshot in snapshots if SOURCE_VOLUME_TAG not in tags_of(snapshot)]


def describe_instances(ec2, instance_ids):
    instances = {}
    ids = sorted(set(instance_ids))
    for start in range(0, len(ids), _INSTANCE_BATCH):
        for reservation in items(ec2, "describe_instances", "Reservations", InstanceIds=ids[start:start + _INSTANCE_BATCH]):
            for instance in reservation["Instances"]:
                instances[instance["InstanceId"]] = instance
    return instances


class KeyScope(object):
    """A volume or snapshot's key against the run's RekeyScope."""

    def __init__(self, resolver, rekey_scope):
        self._resolver = resolver
        self._rekey_scope = rekey_scope

    def classify(self, encrypted, key_ref):
        """(key ARN or None, action or None, reason) for a volume or snapshot's key."""
        if not encrypted or not key_ref:
            return None, SKIPPED, "not encrypted: no KMS key depends on it"
        key_arn = self._resolver.arn(key_ref)
        if key_arn == self._rekey_scope.destination.arn:
            return key_arn, UNCHANGED, "already under the destination key"
        if not self._rekey_scope.moves(key_arn):
            return key_arn, SKIPPED, "under a key not listed in source_key_ids"
        return key_arn, None, None


class VolumePlan(object):
    """One volume and what the run does with it."""

    def __init__(self, volume, source_key_arn, action, reason=None, swap=None, fix=None):
        self.volume = volume
        self.source_key_arn = source_key_arn
        self.action = action
        self.reason = reason
        self.fix = fix
        self.swap = swap  # SwapRecord for a volume attached (or being swapped) on an instance
        self.root = False
        self.instance_running = False

    @property
    def volume_id(self):
        return self.volume["VolumeId"]

    @property
    def instance_id(self):
        return self.swap.instance_id if self.swap else None


class SnapshotPlan(object):
    def __init__(self, snapshot, source_key_arn, action, reason=None):
        self.snapshot = snapshot
        self.source_key_arn = source_key_arn
        self.action = action
        self.reason = reason

    @property
    def snapshot_id(self):
        return self.snapshot["SnapshotId"]


def _swap_record(volume):
    """The attachment to restore: the one recorded by an interrupted swap, else the current one."""
    recorded = tags_of(volume).get(SWAP_TAG)
    if recorded:
        record = SwapRecord.decode(recorded)
        if record is not None:
            return record
    attachments = volume.get("Attachments") or []
    if len(attachments) != 1:
        return None
    attachment = attachments[0]
    return SwapRecord(attachment["InstanceId"], attachment["Device"], attachment.get("DeleteOnTermination"), None)


def plan_volumes(ec2, volumes, scope, allow_stop):
    plans = []
    for volume in volumes:
        plans.append(_classify_volume(volume, scope))
    instance_ids = [plan.swap.instance_id for plan in plans if plan.action == MIGRATED and plan.swap]
    instances = describe_instances(ec2, instance_ids) if instance_ids else {}
    for plan in plans:
        if plan.action == MIGRATED and plan.swap:
            _check_instance(plan, instances.get(plan.swap.instance_id), allow_stop)
    return plans


def _classify_volume(volume, scope):
    tags = tags_of(volume)
    try:
        key_arn, action, reason = scope.classify(volume.get("Encrypted"), volume.get("KmsKeyId"))
    except RotationError as exc:
        return VolumePlan(volume, volume.get("KmsKeyId"), FAILED, str(exc), fix=exc.fix)
    if REPLACED_BY_TAG in tags and action is None:
        return VolumePlan(volume, key_arn, RETAINED,
                          "replaced by {0}; kept as asked (source_volume=keep)".format(tags[REPLACED_BY_TAG]))
    if action is not None:
        return VolumePlan(volume, key_arn, action, reason)
    attachments = volume.get("Attachments") or []
    if len(attachments) > 1:
        return VolumePlan(volume, key_arn, FAILED,
                          "multi-attach volume attached to {0} instances".format(len(attachments)),
                          fix="needs manual handling: detach it from all instances but one, or migrate it by hand.")
    if volume.get("State") not in ("available", "in-use"):
        return VolumePlan(volume, key_arn, FAILED, "volume is {0}".format(volume.get("State")),
                          fix="wait until it is available or in-use, then run again.")
    return VolumePlan(volume, key_arn, MIGRATED, swap=_swap_record(volume))


def _check_instance(plan, instance, allow_stop):
    """Decide whether the volume's instance allows the swap."""
    if instance is None:
        plan.action, plan.reason = FAILED, "instance {0} not found".format(plan.swap.instance_id)
        plan.fix = "check the instance; if it is gone, the volume is no longer attached."
        return
    state = instance["State"]["Name"]
    plan.root = plan.swap.device == instance.get("RootDeviceName")
    if plan.swap.instance_state is None:
        plan.swap.instance_state = state
    plan.instance_running = state == "running"
    if state not in _STOPPABLE_STATES:
        plan.action, plan.reason = FAILED, "instance {0} is {1}, a state it cannot be stopped from".format(
            instance["InstanceId"], state)
        plan.fix = "wait until the instance is running or stopped, then run again."
    elif state == "running" and not allow_stop:
        plan.action, plan.reason = NEEDS_STOP, "attached to running instance {0}; allow_stop is false".format(
            instance["InstanceId"])
        plan.fix = "set allow_stop: true, or stop the instance in a maintenance window, then run again."
    elif state == "running" and instance.get("RootDeviceType") == "instance-store":
        plan.action, plan.reason = FAILED, "instance {0} has an instance-store root and cannot be stopped".format(
            instance["InstanceId"])
        plan.fix = "needs manual handling: move the data to a new volume from inside the instance."


def plan_snapshots(snapshots, scope):
    plans = []
    for snapshot in snapshots:
        tags = tags_of(snapshot)
        try:
            key_arn, action, reason = scope.classify(snapshot.get("Encrypted"), snapshot.get("KmsKeyId"))
        except RotationError as exc:
            plans.append(SnapshotPlan(snapshot, snapshot.get("KmsKeyId"), FAILED, str(exc)))
            continue
        if action is None and REPLACED_BY_TAG in tags:
            action, reason = RETAINED, "replaced by {0}; kept as asked (source_snapshot=keep)".format(
                tags[REPLACED_BY_TAG])
        elif action is None and snapshot.get("State") != "completed":
            action, reason = FAILED, "snapshot is {0}; only a completed snapshot can be copied".format(
                snapshot.get("State"))
        plans.append(SnapshotPlan(snapshot, key_arn, action or REKEYED, reason))
    return plans
