# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Re-key existing EBS snapshots for ebs_kms_migrate: CopySnapshot under the destination key.

The copy keeps the description and the user's tags and is tagged with the
source snapshot id as it is created, so an interrupted run finds the copy and
waits for it instead of copying again (a copy under another key, made by a
run with another destination, is not it). CopySnapshot does not copy who may
create volumes from the snapshot: once the copy is completed it is shared
with the accounts (createVolumePermission) the source is shared with, and
only then is the source kept (tagged with its copy's id) or deleted.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import REPLACED_BY_TAG, SOURCE_SNAPSHOT_TAG
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import tag_specification, user_tags

_UNUSABLE_STATES = ("error", "recoverable", "recovering")


class SnapshotRekeyer(object):
    def __init__(self, ec2, waits, region, destination_arn, delete_source):
        self.ec2 = ec2
        self.waits = waits
        self.region = region
        self.destination_arn = destination_arn
        self.delete_source = delete_source

    def _existing_copy(self, snapshot_id):
        copies = items(self.ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"],
                       Filters=[{"Name": "tag:" + SOURCE_SNAPSHOT_TAG, "Values": [snapshot_id]}])
        usable = [copy for copy in copies
                  if copy.get("State") not in _UNUSABLE_STATES and copy.get("KmsKeyId") == self.destination_arn]
        return usable[0]["SnapshotId"] if usable else None

    def _share_like_source(self, source_id, copy_id):
        """Give the copy the source's createVolumePermission: the same accounts (and groups) may use it."""
        permissions = self.ec2.describe_snapshot_attribute(
            SnapshotId=source_id, Attribute="createVolumePermission", aws_retry=True).get("CreateVolumePermissions", [])
        user_ids = [entry["UserId"] for entry in permissions if entry.get("UserId")]
        groups = [entry["Group"] for entry in permissions if entry.get("Group")]
        if user_ids or groups:
            self.ec2.modify_snapshot_attribute(SnapshotId=copy_id, Attribute="createVolumePermission",
                                               OperationType="add", UserIds=user_ids, GroupNames=groups,
                                               aws_retry=True)

    def rekey(self, plan):
        """The id of the completed copy under the destination key; the source retired as asked."""
        snapshot = plan.snapshot
        source_id = snapshot["SnapshotId"]
        copy_id = self._existing_copy(source_id)
        if copy_id is None:
            copy_id = self.ec2.copy_snapshot(
                SourceSnapshotId=source_id, SourceRegion=self.region, Description=snapshot.get("Description", ""),
                Encrypted=True, KmsKeyId=self.destination_arn,
                TagSpecifications=tag_specification("snapshot", dict(user_tags(snapshot), **{SOURCE_SNAPSHOT_TAG: source_id})),
                aws_retry=True)["SnapshotId"]
        self.waits.wait("snapshot_completed", copy_id, SnapshotIds=[copy_id])
        self._share_like_source(source_id, copy_id)
        if self.delete_source:
            self.ec2.delete_snapshot(SnapshotId=source_id, aws_retry=True)
        else:
            self.ec2.create_tags(Resources=[source_id], Tags=[{"Key": REPLACED_BY_TAG, "Value": copy_id}],
                                 aws_retry=True)
        return copy_id
