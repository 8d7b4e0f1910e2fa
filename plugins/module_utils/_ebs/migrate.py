# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Move EBS volumes and snapshots to a new KMS key: the engine of ebs_kms_migrate.

Plan first (planner), then work through units in a bounded pool: one unit
per unattached volume, one per instance (all its volumes in scope are
swapped during one stop, so two workers never stop the same instance), one
per snapshot; an instance's unit holds the instance's lease while it works, so
two runs never swap one instance at once. The result says per volume and snapshot what was done;
`blocking` counts what in scope still depends on a source key, and
`dependents` says of each such volume or snapshot why.
"""

import functools
import uuid

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, RETAINED, TO_MOVE
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import describe_failure
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.progress import progress_file
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs import planner
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.lease import InstanceLease
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.snapshot_rekey import SnapshotRekeyer
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.instance_swap import InstanceSwap
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.volume_swap import VolumeReplacer
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.waits import Waits
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, resolve_rekey_keys

VOLUME_ACTIONS = (planner.MIGRATED, planner.UNCHANGED, planner.RETAINED, planner.SKIPPED,
                  planner.NEEDS_STOP, planner.REATTACHED, planner.FAILED)
SNAPSHOT_ACTIONS = (planner.REKEYED, planner.UNCHANGED, planner.RETAINED, planner.SKIPPED, planner.FAILED)
# What still depends on a source key after the run, for the retirement gate.
_BLOCKING_AFTER_RUN = (planner.NEEDS_STOP, planner.REATTACHED, planner.FAILED)


class MigrationSpec(Spec):
    """ebs_kms_migrate's options."""

    FIELDS = {"volume_ids": [], "filters": {}, "snapshot_ids": [], "snapshot_filters": {}, "destination_key_id": None,
              "source_key_ids": [], "allow_stop": False, "allow_instance_store_loss": False,
              "source_volume": "keep", "source_snapshot": "keep",
              "keep_temporary_snapshots": False, "concurrency": 8, "wait_timeout": 3600, "progress_file": None}
    RANGES = {"concurrency": (1, None), "wait_timeout": (1, None)}


class EbsMigration(Engine):
    SPEC = MigrationSpec

    def run(self, spec, check_mode=False):
        ec2 = self.clients("ec2")
        keys = KeyResolver(self.clients("kms"))
        rekey_scope = resolve_rekey_keys(keys, spec.destination_key_id, spec.source_key_ids)
        destination, sources = rekey_scope.destination, rekey_scope.sources
        scope = planner.KeyScope(keys, rekey_scope)
        policy = planner.StopPolicy(ec2, spec.allow_stop, spec.allow_instance_store_loss)
        volume_plans = planner.plan_volumes(
            ec2, planner.list_volumes(ec2, spec.volume_ids, spec.filters), scope, policy)
        snapshot_plans = planner.plan_snapshots(
            planner.list_snapshots(ec2, spec.snapshot_ids, spec.snapshot_filters), scope)
        volume_results = dict((plan.volume_id, _volume_result(plan, destination.arn)) for plan in volume_plans)
        snapshot_results = dict((plan.snapshot_id, _snapshot_result(plan, destination.arn)) for plan in snapshot_plans)
        if not check_mode:
            replan = functools.partial(planner.replan, ec2, scope=scope, policy=policy)
            self._execute(ec2, spec, destination.arn, replan, volume_plans, snapshot_plans, volume_results,
                          snapshot_results)
        return self._summary(destination, sources, volume_plans, list(volume_results.values()),
                             list(snapshot_results.values()), check_mode)

    def _execute(self, ec2, spec, destination_arn, replan, volume_plans, snapshot_plans, volume_results,
                 snapshot_results):
        run_id = uuid.uuid4().hex[:16]

        def replacer_with(waits):
            return VolumeReplacer(ec2, waits, destination_arn, spec.keep_temporary_snapshots,
                                  delete_source=spec.source_volume == "delete")

        waits = Waits(ec2, spec.wait_timeout)
        replacer = replacer_with(waits)
        rekeyer = SnapshotRekeyer(ec2, waits, self.clients.region, destination_arn,
                                  delete_source=spec.source_snapshot == "delete")

        def work(unit):
            kind, payload = unit
            if kind == "snapshot":
                return rekeyer.rekey(payload)
            if kind == "instance":
                instance_id = payload[0].instance_id
                lease = InstanceLease(ec2, instance_id, run_id, spec.wait_timeout)
                # Every wait of the swap first renews the lease, so it outlasts the wait.
                swap_replacer = replacer_with(Waits(ec2, spec.wait_timeout, before_wait=lease.keep))
                return InstanceSwap(swap_replacer, lease, replan, instance_id, payload).run()
            return replacer.migrate_unattached(payload)

        def progress_now():
            return _progress(volume_results.values(), snapshot_results.values())

        with progress_file(spec.progress_file, "EBS volumes and snapshots", "volumes and snapshots") as progress:
            progress.update(*progress_now())
            finished = run_bounded(_units(volume_plans, snapshot_plans), work, self.limit)
            for unit, answer, error in finished:
                self._settle(unit, answer, error, destination_arn, volume_results, snapshot_results)
                progress.update(*progress_now())

    @staticmethod
    def _settle(unit, answer, error, destination_arn, volume_results, snapshot_results):
        """Put one finished unit's outcome into the volume and snapshot results."""
        kind, payload = unit
        if kind == "snapshot":
            result = snapshot_results[payload.snapshot_id]
            if error is None:
                result["new_snapshot_id"] = answer
            else:
                _fail(result, error)
            return
        if error is not None:
            for plan in (payload if kind == "instance" else [payload]):
                _fail(volume_results[plan.volume_id], error)
                volume_results[plan.volume_id]["instance_stopped"] = False
            return
        for outcome in answer:
            # An instance's volumes were planned again under its lease: the result follows that plan.
            result = _volume_result(outcome.plan, destination_arn)
            result.update(new_volume_id=outcome.new_volume_id, instance_stopped=outcome.instance_stopped,
                          stopped_seconds=outcome.stopped_seconds)
            volume_results[outcome.plan.volume_id] = result

    def _summary(self, destination, sources, volume_plans, volumes, snapshots, check_mode):
        volume_counts = _count(volumes, VOLUME_ACTIONS)
        snapshot_counts = _count(snapshots, SNAPSHOT_ACTIONS)
        still_moving = () if not check_mode else (planner.MIGRATED, planner.REKEYED)
        blocking = [item.get("volume_id") or item.get("snapshot_id") for item in volumes + snapshots
                    if item["action"] in _BLOCKING_AFTER_RUN + still_moving]
        failures = [dict(resource=item.get("volume_id") or item.get("snapshot_id"), reason=item["reason"],
                         fix=item.get("fix"))
                    for item in volumes + snapshots if item["action"] == planner.FAILED]
        instances = _instances(volume_plans, volumes)
        values = {
            "changed": volume_counts[planner.MIGRATED] + snapshot_counts[planner.REKEYED] > 0,
            "volumes": volumes,
            "snapshots": snapshots,
            "instances": instances,
            "instances_stopped": [item["instance_id"] for item in instances if item["stopped"]],
            "counts": {"volumes": volume_counts, "snapshots": snapshot_counts},
            "blocking": len(blocking),
            "blocking_resources": blocking,
            "dependents": _dependents(volumes, snapshots, check_mode),
            "failures": failures,
            "destination_key_arn": destination.arn,
            "destination_key_id": destination.key_id,
            "source_key_arns": sorted(sources),
            "throttling": self.limit.report(),
        }
        failure = None
        if failures:
            failure = "{0} volume(s) or snapshot(s) failed; see failures: {1}".format(
                len(failures), "; ".join("{0}: {1}".format(f["resource"], f["reason"]) for f in failures[:5]))
        return Result(values, failure=failure)


def _progress(volumes, snapshots):
    """(done, counts, total) of the progress file: the volumes and snapshots to move, and how far they are."""
    volumes, snapshots = list(volumes), list(snapshots)
    moving = [item for item in volumes + snapshots if item["changed"] or item["action"] == planner.FAILED]
    moved = sum(1 for item in moving if item.get("new_volume_id") or item.get("new_snapshot_id"))
    failed = sum(1 for item in moving if item["action"] == planner.FAILED)
    counts = {"scanned": len(volumes) + len(snapshots), "to_move": len(moving), "rekeyed": moved, "failed": failed,
              "blocking": sum(1 for item in volumes + snapshots if item["action"] in _BLOCKING_AFTER_RUN)}
    return moved + failed, counts, len(moving)


def _units(volume_plans, snapshot_plans):
    by_instance = {}
    for plan in volume_plans:
        if plan.action != planner.MIGRATED:
            continue
        if plan.swap is None:
            yield ("volume", plan)
        else:
            by_instance.setdefault(plan.instance_id, []).append(plan)
    for plans in by_instance.values():
        yield ("instance", plans)
    for plan in snapshot_plans:
        if plan.action == planner.REKEYED:
            yield ("snapshot", plan)


def _fail(result, error):
    result.update(action=planner.FAILED, changed=False, destination_key_arn=result["source_key_arn"],
                  reason=describe_failure(error), fix=getattr(error, "fix", None))


def _volume_result(plan, destination_arn):
    volume = plan.volume
    moving = plan.action == planner.MIGRATED
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
        "destination_key_arn": destination_arn if moving or plan.action == planner.UNCHANGED else plan.source_key_arn,
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
    moving = plan.action == planner.REKEYED
    return {
        "snapshot_id": plan.snapshot_id,
        "new_snapshot_id": None,
        "action": plan.action,
        "changed": moving,
        "reason": plan.reason,
        "fix": None,
        "source_key_arn": plan.source_key_arn,
        "destination_key_arn": destination_arn if moving or plan.action == planner.UNCHANGED else plan.source_key_arn,
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


def _dependents(volumes, snapshots, check_mode):
    """What still depends on its source key, one entry per volume or snapshot (see _common/dependents.py).

    Skipped and unchanged items do not depend on a source key; what a real
    run moved depends on the destination key only.
    """
    entries = []
    for service, id_key, items in (("ebs_volumes", "volume_id", volumes), ("ebs_snapshots", "snapshot_id", snapshots)):
        for item in items:
            kind, reason = _dependent_kind(item, check_mode)
            if kind is not None:
                entries.append(dependent(item[id_key], service, kind, reason, key_arn=item["source_key_arn"]))
    return entries


def _dependent_kind(item, check_mode):
    """(kind, reason) of one volume or snapshot result, or (None, None) when it is no dependent."""
    action = item["action"]
    if action in _BLOCKING_AFTER_RUN:
        return BLOCKING, _with_fix(item["reason"], item["fix"])
    if action == planner.RETAINED:
        return RETAINED, item["reason"]
    if check_mode and action == planner.REKEYED:
        return TO_MOVE, "a run copies it under the destination key"
    if check_mode and action == planner.MIGRATED:
        if item["instance_id"] is None:
            return TO_MOVE, "a run replaces it with a copy under the destination key"
        if item["instance_stopped"]:
            return TO_MOVE, ("attached to running instance {0}: a run stops the instance, swaps in a copy under the "
                             "destination key and starts it again".format(item["instance_id"]))
        return TO_MOVE, ("attached to stopped instance {0}: a run swaps in a copy under the destination key, no stop "
                         "needed".format(item["instance_id"]))
    return None, None


def _with_fix(reason, fix):
    # A failure the planner met resolving a key already carries its fix in the reason.
    if not fix or fix in reason:
        return reason
    return "{0}{1} Fix: {2}".format(reason, "" if reason.endswith(".") else ".", fix)
