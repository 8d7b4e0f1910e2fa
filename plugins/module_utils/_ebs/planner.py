# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The planner of ebs_kms_migrate: find the volumes and snapshots in scope and decide what each one needs.

It only reads (DescribeVolumes, DescribeSnapshots, DescribeInstances,
DescribeInstanceTypes, DescribeKey) and returns one VolumePlan per volume and
one SnapshotPlan per snapshot, with the action the run would take. Check mode
reports exactly these. An instance's volumes are planned again once the run
holds the instance's lease (replan), from a fresh look.
"""

from ansible_collections.amazon.aws.plugins.module_utils.transformation import ansible_dict_to_boto3_filter_list

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import is_error
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
# A source replaced in an earlier run, then attached to an instance again: in use under the source key.
REATTACHED = "reattached"
FAILED = "failed"

# DescribeInstances and DescribeInstanceTypes accept at most this many ids per call.
_INSTANCE_BATCH = 200
_INSTANCE_TYPE_BATCH = 100
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


class StopPolicy(object):
    """Whether a run may stop an instance, and lose its instance storage doing so.

    Also what each instance type carries as instance storage (DescribeInstanceTypes),
    looked up once per type for the whole run.
    """

    def __init__(self, ec2, allow_stop, allow_instance_store_loss):
        self.ec2 = ec2
        self.allow_stop = allow_stop
        self.allow_instance_store_loss = allow_instance_store_loss
        self._types = {}

    def instance_types(self, names):
        """{type: its DescribeInstanceTypes entry} for these types; a type the call could not answer is missing."""
        wanted = sorted(set(names) - set(self._types))
        for start in range(0, len(wanted), _INSTANCE_TYPE_BATCH):
            batch = wanted[start:start + _INSTANCE_TYPE_BATCH]
            for entry in items(self.ec2, "describe_instance_types", "InstanceTypes", InstanceTypes=batch):
                self._types[entry["InstanceType"]] = entry
        return dict((name, self._types[name]) for name in names if name in self._types)


def plan_volumes(ec2, volumes, scope, policy):
    plans = []
    for volume in volumes:
        plans.append(_classify_volume(volume, scope))
    instance_ids = [plan.swap.instance_id for plan in plans if plan.action == MIGRATED and plan.swap]
    instances = describe_instances(ec2, instance_ids) if instance_ids else {}
    for plan in plans:
        if plan.action == MIGRATED and plan.swap:
            _check_instance(plan, instances.get(plan.swap.instance_id), policy.allow_stop)
    stopping = [plan for plan in plans if plan.action == MIGRATED and plan.instance_running]
    if stopping and not policy.allow_instance_store_loss:
        _check_instance_storage(stopping, instances, policy)
    return plans


def replan(ec2, plans, scope, policy):
    """The plans of one instance's volumes, made again from a fresh look once the run holds the instance's lease.

    Planning may be long past (a large run, or a wait for another run's
    lease): since then a volume may have been swapped, retired or deleted, and
    the instance started or stopped. A volume no longer there has no plan.
    """
    instance_id = plans[0].instance_id
    found = dict((volume["VolumeId"], volume) for volume in items(
        ec2, "describe_volumes", "Volumes", Filters=[{"Name": "volume-id", "Values": [plan.volume_id for plan in plans]}]))
    fresh = plan_volumes(ec2, [found[plan.volume_id] for plan in plans if plan.volume_id in found], scope, policy)
    for plan in fresh:
        if plan.action == MIGRATED and plan.instance_id != instance_id:
            plan.action = FAILED
            plan.reason = "attached to {0} when the run started, now {1}".format(
                instance_id, "to " + plan.instance_id if plan.instance_id else "unattached")
            plan.fix = "run again."
    return fresh


def _classify_volume(volume, scope):
    tags = tags_of(volume)
    try:
        key_arn, action, reason = scope.classify(volume.get("Encrypted"), volume.get("KmsKeyId"))
    except RotationError as exc:
        return VolumePlan(volume, volume.get("KmsKeyId"), FAILED, str(exc), fix=exc.fix)
    attachments = volume.get("Attachments") or []
    if REPLACED_BY_TAG in tags and action is None:
        return _replaced(volume, key_arn, tags[REPLACED_BY_TAG], attachments)
    if action is not None:
        return VolumePlan(volume, key_arn, action, reason)
    if len(attachments) > 1:
        return VolumePlan(volume, key_arn, FAILED,
                          "multi-attach volume attached to {0} instances".format(len(attachments)),
                          fix="needs manual handling: detach it from all instances but one, or migrate it by hand.")
    if volume.get("State") not in ("available", "in-use"):
        return VolumePlan(volume, key_arn, FAILED, "volume is {0}".format(volume.get("State")),
                          fix="wait until it is available or in-use, then run again.")
    return VolumePlan(volume, key_arn, MIGRATED, swap=_swap_record(volume))


def _replaced(volume, key_arn, replacement_id, attachments):
    """A source an earlier run replaced: retained while unattached; in use again, and blocking, once attached."""
    if not attachments:
        return VolumePlan(volume, key_arn, RETAINED,
                          "replaced by {0}; kept as asked (source_volume=keep)".format(replacement_id))
    instances = ", ".join(sorted(set(attachment["InstanceId"] for attachment in attachments)))
    return VolumePlan(
        volume, key_arn, REATTACHED,
        "replaced by {0} in an earlier run but attached again to {1}".format(replacement_id, instances),
        fix="it is in use under the source key again: detach it and use {0}, or remove its tag {1} so that a run "
            "moves it again.".format(replacement_id, REPLACED_BY_TAG))


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


def instance_storage(instance, instance_type):
    """What of `instance` is instance storage, erased when it stops: one description each, [] for none.

    Non-EBS devices of its block device mappings, and the instance storage
    its type comes with (`instance_type` is the DescribeInstanceTypes entry).
    """
    found = ["{0} ({1})".format(mapping.get("DeviceName"), mapping.get("VirtualName") or "not EBS")
             for mapping in instance.get("BlockDeviceMappings", [])
             if "Ebs" not in mapping or (mapping.get("VirtualName") or "").startswith("ephemeral")]
    storage = instance_type.get("InstanceStorageInfo")
    if storage or instance_type.get("InstanceStorageSupported"):
        disks = ", ".join("{0} x {1} GB {2}".format(disk.get("Count"), disk.get("SizeInGB"), disk.get("Type"))
                          for disk in (storage or {}).get("Disks", []))
        found.append("the instance store of type {0}{1}".format(instance_type["InstanceType"],
                                                                " ({0})".format(disks) if disks else ""))
    return found


def _check_instance_storage(plans, instances, policy):
    """Refuse to stop an instance that would lose instance storage: fail its volumes, naming it and the fix."""
    names = set(instances[plan.instance_id].get("InstanceType") for plan in plans)
    try:
        types = policy.instance_types([name for name in names if name])
        unreadable = None
    except ClientError as exc:
        types, unreadable = {}, error_message(exc)
    for plan in plans:
        instance = instances[plan.instance_id]
        instance_type = types.get(instance.get("InstanceType"))
        if instance_type is None:
            plan.action = FAILED
            plan.reason = ("cannot tell whether instance {0} (type {1}) has instance storage, which stopping it "
                           "would erase: {2}".format(plan.instance_id, instance.get("InstanceType"),
                                                     unreadable or "DescribeInstanceTypes does not list the type"))
            plan.fix = ("allow ec2:DescribeInstanceTypes, or set allow_instance_store_loss: true if nothing on its "
                        "instance store must survive, then run again.")
            continue
        lost = instance_storage(instance, instance_type)
        if lost:
            plan.action = FAILED
            plan.reason = ("instance {0} has instance storage, erased when it stops: {1}; allow_instance_store_loss "
                           "is false".format(plan.instance_id, "; ".join(lost)))
            plan.fix = ("copy what must survive off its instance store, then run again with "
                        "allow_instance_store_loss: true; or stop the instance yourself (a stopped instance is "
                        "swapped without a stop), then run again.")


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
