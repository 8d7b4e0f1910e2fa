# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Swap the volumes of one instance for their copies under the destination key, during one stop.

InstanceSwap puts the new volumes (made by volume_swap.VolumeReplacer) in
place of the old ones under the instance's lease, and rolls back if any step
fails before the instance runs on its new volumes.
"""

import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, describe_failure
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import SWAP_TAG, tags_of
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.planner import FAILED, MIGRATED, UNCHANGED, VolumePlan
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.volume_swap import FINAL, LIVE, VolumeOutcome, describe_instance


class InstanceSwap(object):
    """Swap every in-scope volume of one instance during one stop, under its lease, with rollback.

    Steps: take the instance's lease; plan its volumes again; record the swap
    on each source volume; live snapshots while the instance runs; stop; final
    snapshots; new volumes from the final ones; detach old, attach new at the
    same device; restore DeleteOnTermination; start if it was running; verify;
    give the lease back. Until the instance runs on its new volumes, any
    failure puts the old volumes back (once the instance is stopped), restores
    the instance's state, and removes what this swap created. Once it ran on
    them, they hold its writes: a failure then leaves them in place and a
    rerun finishes the swap. Nothing of the user's is deleted before the
    verification passes, and a swap whose lease another run took is never
    rolled back by this one.
    """

    def __init__(self, replacer, lease, replan, instance_id, plans, clock=time.monotonic):
        self.replacer = replacer
        self.ec2 = replacer.ec2
        self.waits = replacer.waits
        self.lease = lease
        self.replan = replan
        self.instance_id = instance_id
        self.plans = plans
        self.prior_state = None
        self._clock = clock
        self._stopped_at = None
        self._new_volumes = {}
        self._ran_on_new = False

    def run(self):
        self.lease.acquire()
        try:
            outcomes = self._run_leased()
        except Exception:  # whatever ends the swap, the lease goes back (a run that dies leaves it to expire)
            self.lease.release()
            raise
        self.lease.release()
        return outcomes

    def _run_leased(self):
        fresh = dict((plan.volume_id, plan) for plan in self.replan(self.plans))
        outcomes = []
        moving = []
        for plan in self.plans:
            current = fresh.get(plan.volume_id)
            if current is None:
                outcomes.append(self._gone(plan))
            elif current.action == MIGRATED:
                moving.append(current)
            else:
                outcomes.append(VolumeOutcome(current))
        if moving:
            outcomes.extend(self._swap_volumes(moving))
        return outcomes

    def _gone(self, plan):
        """A volume deleted since planning: by a run that replaced it (source_volume: delete), or by someone else."""
        placed = [volume["VolumeId"] for volume in self.replacer.replacements(plan.volume_id)
                  if volume.get("Attachments")]
        if placed:
            outcome = VolumeOutcome(VolumePlan(
                plan.volume, plan.source_key_arn, UNCHANGED, swap=plan.swap,
                reason="replaced by {0} and deleted by another run while this run waited for the instance's "
                       "lease".format(placed[0])))
            outcome.new_volume_id = placed[0]
            return outcome
        return VolumeOutcome(VolumePlan(
            plan.volume, plan.source_key_arn, FAILED, swap=plan.swap,
            reason="deleted since the run started, and no replacement of it is attached",
            fix="find out who deleted it; nothing is left to move."))

    def _swap_volumes(self, plans):
        self.plans = plans
        self.prior_state = plans[0].swap.instance_state
        self._record()
        try:
            stopped_seconds = self._swap()
        except Exception as exc:  # whatever stops a swap halfway, the old volumes must go back in place
            self._roll_back(exc)
            raise RotationError(
                "Swapping the volumes of {0} failed and was rolled back: the old volumes are attached again and "
                "the instance is {1}. Cause: {2}".format(self.instance_id, self.prior_state, describe_failure(exc)),
                resource=self.instance_id, fix=getattr(exc, "fix", None) or "fix the cause and run the task again.")
        outcomes = [VolumeOutcome(plan) for plan in plans]
        for outcome in outcomes:
            outcome.new_volume_id = self._new_volumes[outcome.plan.volume_id]
            outcome.instance_stopped = self._stopped_at is not None
            outcome.stopped_seconds = stopped_seconds
            self.replacer.finish(outcome.plan.volume_id, outcome.new_volume_id, swapped=True)
        return outcomes

    def _record(self):
        for plan in self.plans:
            if SWAP_TAG not in tags_of(plan.volume):
                self.ec2.create_tags(Resources=[plan.volume_id], Tags=[{"Key": SWAP_TAG, "Value": plan.swap.encode()}],
                                     aws_retry=True)

    def _instance(self):
        return describe_instance(self.ec2, self.instance_id)

    def _attached(self, instance):
        """{device: volume id} on the instance now."""
        return dict((mapping["DeviceName"], mapping.get("Ebs", {}).get("VolumeId"))
                    for mapping in instance.get("BlockDeviceMappings", []))

    def _swap(self):
        instance = self._instance()
        self._find_placed(instance)
        pending = [plan for plan in self.plans if plan.volume_id not in self._new_volumes]
        if pending:
            self._stop(pending, instance["State"]["Name"])
            for plan in pending:
                self._new_volumes[plan.volume_id] = self.replacer.replacement(plan.volume)
            attached = self._attached(self._instance())
            for plan in pending:
                self._put_in_place(plan, attached, self._new_volumes[plan.volume_id], plan.volume_id)
        self._restore_delete_on_termination(dict((plan.swap.device, plan.swap.delete_on_termination)
                                                 for plan in self.plans))
        stopped_seconds = self._restore_state()
        if self.prior_state == "running":
            self._ran_on_new = True
        self._verify()
        return stopped_seconds

    def _find_placed(self, instance):
        """Replacements an interrupted run already attached at their device, and whether the instance ran on one."""
        mappings = dict((mapping["DeviceName"], mapping.get("Ebs", {}))
                        for mapping in instance.get("BlockDeviceMappings", []))
        for plan in self.plans:
            mapping = mappings.get(plan.swap.device, {})
            for volume in self.replacer.replacements(plan.volume_id):
                if mapping.get("VolumeId") == volume["VolumeId"]:
                    self._new_volumes[plan.volume_id] = volume["VolumeId"]
                    self._ran_on_new = self._ran_on_new or _may_have_run_on(instance, mapping)

    def _stop(self, pending, state):
        """Live snapshots, then stop: the final snapshots that follow see no more writes."""
        if state == "running":
            for plan in pending:
                self.replacer.snapshot(plan.volume_id, LIVE)
        if state != "stopped" or self.prior_state == "running":
            # Stopped by an earlier, interrupted run of ours, it still counts as our stop.
            self._stopped_at = self._clock()
        self._bring_to_stopped(state)

    def _bring_to_stopped(self, state):
        """Stop the instance and wait until it is stopped: no volume is detached from it before (a root cannot be)."""
        if state == "stopped":
            return
        if state == "pending":
            self.waits.wait("instance_running", self.instance_id, InstanceIds=[self.instance_id])
        if state in ("pending", "running"):
            self.ec2.stop_instances(InstanceIds=[self.instance_id], aws_retry=True)
        self.waits.wait("instance_stopped", self.instance_id, InstanceIds=[self.instance_id])

    def _put_in_place(self, plan, attached, wanted_id, other_id):
        """Make `wanted_id` the volume at the plan's device, detaching `other_id` if it is there."""
        device = plan.swap.device
        current = attached.get(device)
        if current == wanted_id:
            return
        if current == other_id:
            self.ec2.detach_volume(VolumeId=other_id, InstanceId=self.instance_id, aws_retry=True)
            self.waits.wait("volume_available", other_id, VolumeIds=[other_id])
        elif current is not None:
            raise RotationError("Device {0} holds {1}, neither the old nor the new volume.".format(device, current),
                                resource=self.instance_id, fix="needs manual handling: check the instance's volumes.")
        self.ec2.attach_volume(VolumeId=wanted_id, InstanceId=self.instance_id, Device=device, aws_retry=True)
        self.waits.wait("volume_in_use", wanted_id, VolumeIds=[wanted_id])

    def _restore_delete_on_termination(self, wanted):
        """New attachments default to DeleteOnTermination false: set what the old ones had."""
        instance = self._instance()
        changes = []
        for mapping in instance.get("BlockDeviceMappings", []):
            device = mapping["DeviceName"]
            if device in wanted and bool(mapping.get("Ebs", {}).get("DeleteOnTermination")) != wanted[device]:
                changes.append({"DeviceName": device, "Ebs": {"DeleteOnTermination": wanted[device]}})
        if changes:
            self.ec2.modify_instance_attribute(InstanceId=self.instance_id, BlockDeviceMappings=changes, aws_retry=True)

    def _restore_state(self):
        """Start the instance again if it was running; the seconds it spent stopped."""
        if self.prior_state == "running" and self._instance()["State"]["Name"] != "running":
            self.ec2.start_instances(InstanceIds=[self.instance_id], aws_retry=True)
            self.waits.wait("instance_running", self.instance_id, InstanceIds=[self.instance_id])
        if self._stopped_at is None:
            return 0.0
        return round(self._clock() - self._stopped_at, 3)

    def _verify(self):
        instance = self._instance()
        state = instance["State"]["Name"]
        attached = self._attached(instance)
        wrong = [plan.swap.device for plan in self.plans if attached.get(plan.swap.device) != self._new_volumes[plan.volume_id]]
        if state != self.prior_state or wrong:
            raise RotationError(
                "Verification failed: instance is {0} (expected {1}); devices without their new volume: {2}.".format(
                    state, self.prior_state, ", ".join(wrong) or "none"),
                resource=self.instance_id)

    def _roll_back(self, cause):
        """Old volumes back at their devices, the instance in its prior state, this swap's copies removed.

        Only while this run still holds the instance's lease (a swap another
        run took over is that run's to finish or roll back), and only before
        the instance ran on a new volume: from then on the new volumes hold
        its writes, and the swap only goes forward.
        """
        refusal = None
        try:
            if not self.lease.held():
                refusal = RotationError(
                    "Swapping the volumes of {0} failed ({1}) while another run holds the instance's lease: this run "
                    "did not roll back a swap that run is working on.".format(self.instance_id, describe_failure(cause)),
                    resource=self.instance_id, fix="let that run finish, then run again.")
            elif self._ran_on_new or self._runs_on_new():
                refusal = RotationError(
                    "Swapping the volumes of {0} failed after the instance ran on its new volumes ({1}), so it was not "
                    "rolled back: that would lose what was written to them. Cause: {2}".format(
                        self.instance_id, ", ".join(sorted(self._new_volumes.values())), describe_failure(cause)),
                    resource=self.instance_id,
                    fix="fix the cause and run the task again: it finishes the swap. The source volumes are kept, "
                        "tagged {0}, until then.".format(SWAP_TAG))
            else:
                self._put_back()
        except Exception as exc:  # a rollback that fails for any reason must say what to put back by hand
            raise RotationError(
                "Swapping the volumes of {0} failed ({1}) and so did the rollback ({2}).".format(
                    self.instance_id, describe_failure(cause), describe_failure(exc)),
                resource=self.instance_id,
                fix="needs manual handling: attach {0} at {1} and start the instance if it was running; "
                    "the source volumes were not deleted.".format(
                        ", ".join(plan.volume_id for plan in self.plans),
                        ", ".join(plan.swap.device for plan in self.plans)))
        if refusal is not None:
            raise refusal

    def _runs_on_new(self):
        """Whether the instance is not stopped with a new volume at its device: it runs (or ran) on it."""
        instance = self._instance()
        if instance["State"]["Name"] == "stopped":
            return False
        placed = set(self._attached(instance).items())
        return any((plan.swap.device, self._new_volumes[plan.volume_id]) in placed
                   for plan in self.plans if plan.volume_id in self._new_volumes)

    def _put_back(self):
        instance = self._instance()
        attached = self._attached(instance)
        state = instance["State"]["Name"]
        if state not in ("running", "stopped") or any(
                attached.get(plan.swap.device) != plan.volume_id for plan in self.plans):
            self._bring_to_stopped(state)
        for plan in self.plans:
            self._put_in_place(plan, attached, plan.volume_id, self._new_volumes.get(plan.volume_id))
        self._restore_delete_on_termination(dict((plan.swap.device, plan.swap.delete_on_termination)
                                                 for plan in self.plans))
        self._restore_state()
        for plan in self.plans:
            self.replacer.discard(plan.volume_id, (LIVE, FINAL))
            self.ec2.delete_tags(Resources=[plan.volume_id], Tags=[{"Key": SWAP_TAG}], aws_retry=True)


def _may_have_run_on(instance, mapping):
    """Whether the instance may have run (and written) on the volume of this mapping: it is not stopped now, or it
    was launched since the volume was attached; an undated attachment or launch counts as yes."""
    if instance["State"]["Name"] != "stopped":
        return True
    attached, launched = mapping.get("AttachTime"), instance.get("LaunchTime")
    return attached is None or launched is None or launched >= attached
