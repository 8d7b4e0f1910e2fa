# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Replace EBS volumes with copies under the destination key, one volume at a time.

An EBS volume's key cannot change in place: the data goes through a snapshot
into a new volume created under the new key. VolumeReplacer does the steps one
volume needs (instance_swap.InstanceSwap puts the new volumes of one instance
in place of the old ones during a single stop).

Every step first looks for what an earlier, interrupted run already did
(tagged, see markers), so running again resumes instead of duplicating; what
it finds is used only while it still holds all the volume's data
(unwritten_since).
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import REPLACED_BY_TAG, SNAPSHOT_PHASE_TAG
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import SOURCE_VOLUME_TAG, SWAP_TAG
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import tag_specification, tags_of, user_tags

LIVE = "live"  # taken while the instance still runs: only makes the final snapshot incremental
FINAL = "final"  # taken with no writer: the only snapshot a replacement is ever built from

_UNUSABLE_STATES = ("error", "deleting", "deleted", "recoverable", "recovering")


def unwritten_since(volume, instance, started):
    """Whether nothing can have written to `volume` since a final snapshot of it started at `started`.

    `volume` and `instance` (the one it is attached to, or None) are
    described now; `started` is None when the snapshot is gone. A final
    snapshot is only ever taken with no writer (the volume unattached, or its
    instance stopped), so it still holds all the volume's data unless the
    volume was attached since, or its instance launched since, or the
    instance is not stopped now. An attachment or launch that cannot be
    dated counts as newer. A volume attached and detached again between two
    runs leaves no trace in EC2's description of it: an unattached volume
    counts as unwritten.
    """
    attachments = volume.get("Attachments") or []
    if not attachments:
        return True
    if started is None or len(attachments) != 1 or instance is None:
        return False
    attachment = attachments[0]
    if instance.get("InstanceId") != attachment.get("InstanceId") or instance["State"]["Name"] != "stopped":
        return False
    attached, launched = attachment.get("AttachTime"), instance.get("LaunchTime")
    return attached is not None and launched is not None and attached < started and launched < started


def describe_instance(ec2, instance_id):
    return ec2.describe_instances(InstanceIds=[instance_id], aws_retry=True)["Reservations"][0]["Instances"][0]


class VolumeOutcome(object):
    """What happened to one volume (under its plan, made again once the instance's lease was held), for the result."""

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
        """This volume's copies under the destination key (a copy an earlier run made under another key is not one)."""
        return [volume for volume in self._own("describe_volumes", "Volumes", volume_id)
                if volume.get("KmsKeyId") == self.destination_arn]

    def snapshot(self, volume_id, phase, existing=None):
        """The completed temporary snapshot of this phase, taken now unless an earlier run took it (or `existing`)."""
        if existing is None:
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
        """The new volume under the destination key, built from a final snapshot unless an earlier run built it.

        An earlier run's final snapshot and the replacement built from it are
        used only while the volume has had no writer since the snapshot; else
        they are deleted (the replacement never held user writes: it was never
        attached) and built again.
        """
        volume_id = volume["VolumeId"]
        existing = self.replacements(volume_id)
        in_use = [candidate for candidate in existing if candidate.get("Attachments")]
        if in_use:
            return in_use[0]["VolumeId"]  # attached by an interrupted run: past waiting for it
        finals = self.temporary_snapshots(volume_id, FINAL)
        if existing or finals:
            current = self._unwritten_check(volume_id)
            started = dict((snapshot["SnapshotId"], snapshot["StartTime"]) for snapshot in finals)
            stale_volumes = [candidate["VolumeId"] for candidate in existing
                             if not current(started.get(candidate.get("SnapshotId")))]
            stale_snapshots = [snapshot["SnapshotId"] for snapshot in finals if not current(snapshot["StartTime"])]
            self._delete(stale_volumes, stale_snapshots)
            existing = [candidate for candidate in existing if candidate["VolumeId"] not in stale_volumes]
            finals = [snapshot for snapshot in finals if snapshot["SnapshotId"] not in stale_snapshots]
        if existing:
            new_volume_id = existing[0]["VolumeId"]
        else:
            snapshot_id = self.snapshot(volume_id, FINAL, existing=finals)
            params = dict(
                AvailabilityZone=volume["AvailabilityZone"], SnapshotId=snapshot_id, Size=volume["Size"],
                VolumeType=volume["VolumeType"], Encrypted=True, KmsKeyId=self.destination_arn,
                TagSpecifications=tag_specification("volume", dict(user_tags(volume), **{SOURCE_VOLUME_TAG: volume_id})),
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

    def _unwritten_check(self, volume_id):
        """unwritten_since for this volume as it is now: a function of a snapshot's StartTime."""
        volume = self.ec2.describe_volumes(VolumeIds=[volume_id], aws_retry=True)["Volumes"][0]
        attachments = volume.get("Attachments") or []
        instance = describe_instance(self.ec2, attachments[0]["InstanceId"]) if len(attachments) == 1 else None
        return lambda started: unwritten_since(volume, instance, started)

    def _delete(self, volume_ids=(), snapshot_ids=()):
        for volume_id in volume_ids:
            self.ec2.delete_volume(VolumeId=volume_id, aws_retry=True)
        for snapshot_id in snapshot_ids:
            self.ec2.delete_snapshot(SnapshotId=snapshot_id, aws_retry=True)

    def discard(self, volume_id, phases, replacements=True):
        """Delete this volume's temporary snapshots of the given phases and, unless told not to, its unattached replacements."""
        volumes = [volume["VolumeId"] for volume in self.replacements(volume_id)
                   if not volume.get("Attachments")] if replacements else []
        self._delete(volumes, [snapshot["SnapshotId"] for snapshot in self.temporary_snapshots(volume_id)
                               if _phase(snapshot) in phases])

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


def _phase(snapshot):
    return tags_of(snapshot).get(SNAPSHOT_PHASE_TAG)
