# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Replace EBS volumes with copies under the destination key.

An EBS volume's key cannot change in place: the data goes through a snapshot
into a new volume created under the new key. VolumeReplacer does the steps one
volume needs; InstanceSwap puts the new volumes of one instance in place of the
old ones during a single stop, and rolls back if any step fails.

Every step first looks for what an earlier, interrupted run already did
(tagged, see markers), so running again resumes instead of duplicating.
"""

import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, describe_failure
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import REPLACED_BY_TAG, SNAPSHOT_PHASE_TAG
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import SOURCE_VOLUME_TAG, SWAP_TAG
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import tag_specification, tags_of, user_tags

LIVE = "live"  # taken while the instance still runs: only makes the final snapshot incremental
FINAL = "final"  # taken with no writer: the only snapshot a replacement is ever built from

_UNUSABLE_STATES = ("error", "deleting", "deleted", "recoverable", "recovering")


class VolumeOutcome(object):
    """What happened to one volume, for the result."""

    def __init__(self, plan):
        self.plan = plan
        self.new_volume_id = None
        self.instance_stopped = False
        self.stopped_seconds = 0.0


class VolumeReplacer(object):
    """The per-volume steps, each one finding its own earlier work first."""

    def __init__(self, ec2, waits, destination_arn, keep_temporary_snapshots, delete_source):
        self.ec2 = ec2
        self.waits = waits
        self.destination_arn = destination_arn
        self.keep_temporary_snapshots = keep_temporary_snapshots
        self.delete_source = delete_source

    def _own(self, operation, result_key, volume_id):
        filters = [{"Name": "tag:" + SOURCE_VOLUME_TAG, "Values": [volume_id]}]
        extra = {"OwnerIds": ["self"]} if operation == "describe_snapshots" else {}
        return [item for item in items(self.ec2, operation, result_key, Filters=filters, **extra)
                if item.get("State") not in _UNUSABLE_STATES]

    def temporary_snapshots(self, volume_id, phase=None):
        snapshots = self._own("describe_snapshots", "Snapshots", volume_id)
        return [snapshot for snapshot in snapshots if phase is None or _phase(snapshot) == phase]

    def replacements(self, volume_id):
        return self._own("describe_volumes", "Volumes", volume_id)

    def snapshot(self, volume_id, phase):
        """The completed temporary snapshot of this phase, taken now unless an earlier run took it."""
        existing = self.temporary_snapshots(volume_id, phase)
        if existing:
            snapshot_id = existing[0]["SnapshotId"]
        else:
            snapshot_id = self.ec2.create_snapshot(
                VolumeId=volume_id, Description="kmsrotate.aws: {0} snapshot of {1} for re-keying".format(phase, volume_id),
                TagSpecifications=tag_specification("snapshot", {SOURCE_VOLUME_TAG: volume_id, SNAPSHOT_PHASE_TAG: phase}),
                aws_retry=True)["SnapshotId"]
        self.waits.wait("snapshot_completed", snapshot_id, SnapshotIds=[snapshot_id])
        return snapshot_id

    def replacement(self, volume):
        """The new volume under the destination key, built from a final snapshot unless an earlier run built it."""
        existing = self.replacements(volume["VolumeId"])
        if existing and existing[0].get("Attachments"):
            return existing[0]["VolumeId"]  # attached by an interrupted run: past waiting for it
        if existing:
            new_volume_id = existing[0]["VolumeId"]
        else:
            snapshot_id = self.snapshot(volume["VolumeId"], FINAL)
            params = dict(
                AvailabilityZone=volume["AvailabilityZone"], SnapshotId=snapshot_id, Size=volume["Size"],
                VolumeType=volume["VolumeType"], Encrypted=True, KmsKeyId=self.destination_arn,
                TagSpecifications=tag_specification("volume", dict(user_tags(volume), **{SOURCE_VOLUME_TAG: volume["VolumeId"]})),
            )
            # Provisioned IOPS and throughput are kept only where the type takes them (io1/io2/gp3, gp3).
            if volume.get("Iops") and volume["VolumeType"] in ("io1", "io2", "gp3"):
                params["Iops"] = volume["Iops"]
            if volume.get("Throughput") and volume["VolumeType"] == "gp3":
                params["Throughput"] = volume["Throughput"]
            if volume.get("MultiAttachEnabled"):
                params["MultiAttachEnabled"] = True
            new_volume_id = self.ec2.create_volume(aws_retry=True, **params)["VolumeId"]
        self.waits.wait("volume_available", new_volume_id, VolumeIds=[new_volume_id])
        return new_volume_id

    def discard(self, volume_id, phases, replacements=True):
        """Delete this volume's temporary snapshots of the given phases and, unless told not to, its unattached replacements."""
        if replacements:
            for volume in self.replacements(volume_id):
                if not volume.get("Attachments"):
                    self.ec2.delete_volume(VolumeId=volume["VolumeId"], aws_retry=True)
        for snapshot in self.temporary_snapshots(volume_id):
            if _phase(snapshot) in phases:
                self.ec2.delete_snapshot(SnapshotId=snapshot["SnapshotId"], aws_retry=True)

    def finish(self, volume_id, new_volume_id, swapped=False):
        """After the new volume is in place (and verified): remove the temporary snapshots, then retire the source.

        The source is marked last, so a run interrupted before that still
        sees it as in progress, finds the replacement and finishes here.
        """
        if not self.keep_temporary_snapshots:
            self.discard(volume_id, (LIVE, FINAL), replacements=False)
        if self.delete_source:
            self.ec2.delete_volume(VolumeId=volume_id, aws_retry=True)
            return
        if swapped:
            self.ec2.delete_tags(Resources=[volume_id], Tags=[{"Key": SWAP_TAG}], aws_retry=True)
        self.ec2.create_tags(Resources=[volume_id], Tags=[{"Key": REPLACED_BY_TAG, "Value": new_volume_id}],
                             aws_retry=True)

    def migrate_unattached(self, plan):
        """Unattached volume: snapshot, new volume from it, retire the source."""
        outcome = VolumeOutcome(plan)
        outcome.new_volume_id = self.replacement(plan.volume)
        self.finish(plan.volume_id, outcome.new_volume_id)
        return [outcome]


class InstanceSwap(object):
    """Swap every in-scope volume of one instance during one stop, with rollback.

    Steps: record the swap on each source volume; live snapshots while the
    instance runs; stop; final snapshots; new volumes from the final ones;
    detach old, attach new at the same device; restore DeleteOnTermination;
    start if it was running; verify. Until the verification passes, any failure
    puts the old volumes back, restores the instance's state, and removes what
    this swap created. Nothing of the user's is deleted before that.
    """

    def __init__(self, replacer, instance_id, plans, clock=time.monotonic):
        self.replacer = replacer
        self.ec2 = replacer.ec2
        self.waits = replacer.waits
        self.instance_id = instance_id
        self.plans = plans
        self.prior_state = plans[0].swap.instance_state
        self._clock = clock
        self._stopped_at = None
        self._new_volumes = {}

    def run(self):
        outcomes = [VolumeOutcome(plan) for plan in self.plans]
        self._record()
        try:
            stopped_seconds = self._swap()
        except Exception as exc:  # whatever stops a swap halfway, the old volumes must go back in place
            self._roll_back(exc)
            raise RotationError(
                "Swapping the volumes of {0} failed and was rolled back: the old volumes are attached again and "
                "the instance is {1}. Cause: {2}".format(self.instance_id, self.prior_state, describe_failure(exc)),
                resource=self.instance_id, fix=getattr(exc, "fix", None) or "fix the cause and run the task again.")
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
        reservations = self.ec2.describe_instances(InstanceIds=[self.instance_id], aws_retry=True)["Reservations"]
        return reservations[0]["Instances"][0]

    def _attached(self, instance):
        """{device: volume id} on the instance now."""
        return dict((mapping["DeviceName"], mapping.get("Ebs", {}).get("VolumeId"))
                    for mapping in instance.get("BlockDeviceMappings", []))

    def _swap(self):
        instance = self._instance()
        self._find_placed(self._attached(instance))
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
        self._verify()
        return stopped_seconds

    def _find_placed(self, attached):
        """Replacements an interrupted run already attached at their device."""
        for plan in self.plans:
            for volume in self.replacer.replacements(plan.volume_id):
                if attached.get(plan.swap.device) == volume["VolumeId"]:
                    self._new_volumes[plan.volume_id] = volume["VolumeId"]

    def _stop(self, pending, state):
        """Live snapshots, then stop: the final snapshots that follow see no more writes."""
        if state == "running":
            for plan in pending:
                # A final snapshot or new volume left by an interrupted run while the
                # instance kept writing is stale: only one taken while stopped is used.
                self.replacer.discard(plan.volume_id, (FINAL,))
                self.replacer.snapshot(plan.volume_id, LIVE)
            self.ec2.stop_instances(InstanceIds=[self.instance_id], aws_retry=True)
            self._stopped_at = self._clock()
            self.waits.wait("instance_stopped", self.instance_id, InstanceIds=[self.instance_id])
        elif self.prior_state == "running":
            # Stopped by an earlier, interrupted run of ours: it still counts as our stop.
            self._stopped_at = self._clock()

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
        """Old volumes back at their devices, the instance in its prior state, this swap's copies removed."""
        try:
            attached = self._attached(self._instance())
            for plan in self.plans:
                self._put_in_place(plan, attached, plan.volume_id, self._new_volumes.get(plan.volume_id))
            self._restore_delete_on_termination(dict((plan.swap.device, plan.swap.delete_on_termination)
                                                     for plan in self.plans))
            self._restore_state()
            for plan in self.plans:
                self.replacer.discard(plan.volume_id, (LIVE, FINAL))
                self.ec2.delete_tags(Resources=[plan.volume_id], Tags=[{"Key": SWAP_TAG}], aws_retry=True)
        except Exception as exc:  # a rollback that fails for any reason must say what to put back by hand
            raise RotationError(
                "Swapping the volumes of {0} failed ({1}) and so did the rollback ({2}).".format(
                    self.instance_id, describe_failure(cause), describe_failure(exc)),
                resource=self.instance_id,
                fix="needs manual handling: attach {0} at {1} and start the instance if it was running; "
                    "the source volumes were not deleted.".format(
                        ", ".join(plan.volume_id for plan in self.plans),
                        ", ".join(plan.swap.device for plan in self.plans)))


def _phase(snapshot):
    return tags_of(snapshot).get(SNAPSHOT_PHASE_TAG)
