# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Move EBS volumes and snapshots to a new KMS key: the engine of ebs_kms_migrate.

Plan first (ebs_inventory), then work through units in a bounded pool: one
unit per unattached volume, one per instance (all its volumes in scope are
swapped during one stop, so two workers never stop the same instance), one
per snapshot. The result says per volume and snapshot what was done, and
`blocking` counts what in scope still depends on a source key.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils.aws import error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils import ebs_inventory as inventory
from ansible_collections.kmsrotate.aws.plugins.module_utils.ebs_resources import Waits
from ansible_collections.kmsrotate.aws.plugins.module_utils.ebs_snapshot_rekey import SnapshotRekeyer
from ansible_collections.kmsrotate.aws.plugins.module_utils.ebs_volume_swap import InstanceSwap, VolumeReplacer
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils.keys import KeyResolver, require_encryption_destination

VOLUME_ACTIONS = (inventory.MIGRATED, inventory.UNCHANGED, inventory.RETAINED, inventory.SKIPPED,
                  inventory.NEEDS_STOP, inventory.FAILED)
SNAPSHOT_ACTIONS = (inventory.REKEYED, inventory.UNCHANGED, inventory.RETAINED, inventory.SKIPPED, inventory.FAILED)
# What still depends on a source key after the run, for the retirement gate.
_BLOCKING_AFTER_RUN = (inventory.NEEDS_STOP, inventory.FAILED)


class MigrationSpec(object):
    """The module's options as plain values."""

    def __init__(self, destination_key_id, source_key_ids=None, volume_ids=None, filters=None, snapshot_ids=None,
                 snapshot_filters=None, allow_stop=False, source_volume="keep", source_snapshot="keep",
                 keep_temporary_snapshots=False, wait_timeout=3600):
        self.destination_key_id = destination_key_id
        self.source_key_ids = source_key_ids or []
        self.volume_ids = volume_ids or []
        self.filters = filters or {}
        self.snapshot_ids = snapshot_ids or []
        self.snapshot_filters = snapshot_filters or {}
        self.allow_stop = allow_stop
        self.source_volume = source_volume
        self.source_snapshot = source_snapshot
        self.keep_temporary_snapshots = keep_temporary_snapshots
        self.wait_timeout = wait_timeout


class EbsMigrator(object):
    def __init__(self, ec2, kms, region, limit, check_mode=False):
        self._ec2 = ec2
        self._region = region
        self._limit = limit
        self._check_mode = check_mode
        self._keys = KeyResolver(kms)

    def run(self, spec):
        if not (spec.volume_ids or spec.filters or spec.snapshot_ids or spec.snapshot_filters):
            raise RotationError("No volumes or snapshots were named.",
                                fix="give volume_ids, filters, snapshot_ids and/or snapshot_filters.")
        destination = self._keys.resolve(spec.destination_key_id)
        require_encryption_destination(destination)
        sources = self._keys.resolve_all(spec.source_key_ids)
        if destination.arn in sources:
            raise RotationError("source_key_ids includes the destination key.", resource=destination.arn,
                                fix="name the old key(s) in source_key_ids, the new one in destination_key_id.")
        scope = inventory.KeyScope(self._keys, destination.arn, sources)
        volume_plans = inventory.plan_volumes(
            self._ec2, inventory.list_volumes(self._ec2, spec.volume_ids, spec.filters), scope, spec.allow_stop)
        snapshot_plans = inventory.plan_snapshots(
            inventory.list_snapshots(self._ec2, spec.snapshot_ids, spec.snapshot_filters), scope)
        volume_results = dict((plan.volume_id, _volume_result(plan, destination.arn)) for plan in volume_plans)
        snapshot_results = dict((plan.snapshot_id, _snapshot_result(plan, destination.arn)) for plan in snapshot_plans)
        if not self._check_mode:
            self._execute(spec, destination.arn, volume_plans, snapshot_plans, volume_results, snapshot_results)
        return self._summary(destination, sources, volume_plans, list(volume_results.values()),
                             list(snapshot_results.values()))

    def _execute(self, spec, destination_arn, volume_plans, snapshot_plans, volume_results, snapshot_results):
        waits = Waits(self._ec2, spec.wait_timeout)
        replacer = VolumeReplacer(self._ec2, waits, destination_arn, spec.keep_temporary_snapshots,
                                  delete_source=spec.source_volume == "delete")
        rekeyer = SnapshotRekeyer(self._ec2, waits, self._region, destination_arn,
                                  delete_source=spec.source_snapshot == "delete")

        def work(unit):
            kind, payload = unit
            if kind == "snapshot":
                return rekeyer.rekey(payload)
            if kind == "instance":
                return InstanceSwap(replacer, payload[0].instance_id, payload).run()
            return replacer.migrate_unattached(payload)

        for (kind, payload), answer, error in run_bounded(_units(volume_plans, snapshot_plans), work, self._limit):
            if kind == "snapshot":
                result = snapshot_results[payload.snapshot_id]
                if error is None:
                    result["new_snapshot_id"] = answer
                else:
                    _fail(result, error)
                continue
            if error is not None:
                for plan in (payload if kind == "instance" else [payload]):
                    _fail(volume_results[plan.volume_id], error)
                    volume_results[plan.volume_id]["instance_stopped"] = False
                continue
            for outcome in answer:
                result = volume_results[outcome.plan.volume_id]
                result.update(new_volume_id=outcome.new_volume_id, instance_stopped=outcome.instance_stopped,
                              stopped_seconds=outcome.stopped_seconds)

    def _summary(self, destination, sources, volume_plans, volumes, snapshots):
        volume_counts = _count(volumes, VOLUME_ACTIONS)
        snapshot_counts = _count(snapshots, SNAPSHOT_ACTIONS)
        still_moving = () if not self._check_mode else (inventory.MIGRATED, inventory.REKEYED)
        blocking = [item.get("volume_id") or item.get("snapshot_id") for item in volumes + snapshots
                    if item["action"] in _BLOCKING_AFTER_RUN + still_moving]
        failures = [dict(resource=item.get("volume_id") or item.get("snapshot_id"), reason=item["reason"],
                         fix=item.get("fix"))
                    for item in volumes + snapshots if item["action"] == inventory.FAILED]
        instances = _instances(volume_plans, volumes)
        result = {
            "changed": volume_counts[inventory.MIGRATED] + snapshot_counts[inventory.REKEYED] > 0,
            "volumes": volumes,
            "snapshots": snapshots,
            "instances": instances,
            "instances_stopped": [item["instance_id"] for item in instances if item["stopped"]],
            "counts": {"volumes": volume_counts, "snapshots": snapshot_counts},
            "blocking": len(blocking),
            "blocking_resources": blocking,
            "failures": failures,
            "destination_key_arn": destination.arn,
            "destination_key_id": destination.key_id,
            "source_key_arns": sorted(sources),
            "throttling": self._limit.report(),
        }
        if failures:
            result["failed_reason"] = "{0} volume(s) or snapshot(s) failed; see failures: {1}".format(
                len(failures), "; ".join("{0}: {1}".format(f["resource"], f["reason"]) for f in failures[:5]))
        return result


def _units(volume_plans, snapshot_plans):
    by_instance = {}
    for plan in volume_plans:
        if plan.action != inventory.MIGRATED:
            continue
        if plan.swap is None:
            yield ("volume", plan)
        else:
            by_instance.setdefault(plan.instance_id, []).append(plan)
    for plans in by_instance.values():
        yield ("instance", plans)
    for plan in snapshot_plans:
        if plan.action == inventory.REKEYED:
            yield ("snapshot", plan)


def _fail(result, error):
    result.update(action=inventory.FAILED, changed=False, destination_key_arn=result["source_key_arn"],
                  reason=error.message if isinstance(error, RotationError) else error_message(error),
                  fix=getattr(error, "fix", None))


def _volume_result(plan, destination_arn):
    volume = plan.volume
    moving = plan.action == inventory.MIGRATED
    attachment = "none"
    if plan.swap is not None:
        attachment = "root" if plan.root else "data"
    return {
        "volume_id": plan.volume_id,
        "new_volume_id": None,
        "action": plan.action,
        "changed": moving,
        "reason": plan.reason,
        "fix": plan.fix,
        "source_key_arn": plan.source_key_arn,
        "destination_key_arn": destination_arn if moving or plan.action == inventory.UNCHANGED else plan.source_key_arn,
        "instance_id": plan.instance_id,
        "device": plan.swap.device if plan.swap else None,
        "attachment": attachment,
        "delete_on_termination": plan.swap.delete_on_termination if plan.swap else None,
        "instance_stopped": moving and plan.instance_running,
        "stopped_seconds": 0.0,
        "availability_zone": volume.get("AvailabilityZone"),
        "size": volume.get("Size"),
        "volume_type": volume.get("VolumeType"),
        "iops": volume.get("Iops"),
        "throughput": volume.get("Throughput"),
        "multi_attach_enabled": bool(volume.get("MultiAttachEnabled")),
    }


def _snapshot_result(plan, destination_arn):
    snapshot = plan.snapshot
    moving = plan.action == inventory.REKEYED
    return {
        "snapshot_id": plan.snapshot_id,
        "new_snapshot_id": None,
        "action": plan.action,
        "changed": moving,
        "reason": plan.reason,
        "fix": None,
        "source_key_arn": plan.source_key_arn,
        "destination_key_arn": destination_arn if moving or plan.action == inventory.UNCHANGED else plan.source_key_arn,
        "volume_id": snapshot.get("VolumeId"),
        "description": snapshot.get("Description", ""),
        "volume_size": snapshot.get("VolumeSize"),
    }


def _count(items, actions):
    counts = dict((action, 0) for action in actions)
    for item in items:
        counts[item["action"]] += 1
    return counts


def _instances(volume_plans, volumes):
    """One entry per instance whose volumes were in scope and attached."""
    results = dict((item["volume_id"], item) for item in volumes)
    instances = {}
    for plan in volume_plans:
        if plan.swap is None:
            continue
        entry = instances.setdefault(plan.instance_id, {
            "instance_id": plan.instance_id, "state_before": plan.swap.instance_state, "stopped": False,
            "stopped_seconds": 0.0, "volume_ids": []})
        entry["volume_ids"].append(plan.volume_id)
        result = results[plan.volume_id]
        if result["instance_stopped"]:
            entry["stopped"] = True
            entry["stopped_seconds"] = max(entry["stopped_seconds"], result["stopped_seconds"])
    return list(instances.values())
