# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""EC2 for kms_key_usage_info: EBS volumes, snapshots, the region's EBS default key, and AMIs through their snapshots."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def volumes(ctx):
    for volume in items(ctx.client("ec2"), "describe_volumes", "Volumes",
                        Filters=[{"Name": "encrypted", "Values": ["true"]}]):
        attachments = [{"instance_id": item.get("InstanceId"), "device": item.get("Device")}
                       for item in volume.get("Attachments", [])]
        yield Found("ebs_volume", volume["VolumeId"], None, volume.get("KmsKeyId"), {
            "state": volume.get("State"), "attachments": attachments})


def snapshots(ctx):
    for snapshot in ctx.snapshots():
        if snapshot.get("Encrypted"):
            yield Found("ebs_snapshot", snapshot["SnapshotId"], None, snapshot.get("KmsKeyId"), {
                "volume_id": snapshot.get("VolumeId"), "description": snapshot.get("Description", "")})


def default_key(ctx):
    """The key new volumes of the region get: a resource named after the region."""
    ec2 = ctx.client("ec2")
    key_ref = ec2.get_ebs_default_kms_key_id(aws_retry=True).get("KmsKeyId")
    enabled = ec2.get_ebs_encryption_by_default(aws_retry=True).get("EbsEncryptionByDefault", False)
    yield Found("ebs_default_kms_key", ctx.region, None, key_ref, {"encryption_by_default": enabled})


def amis(ctx):
    """An AMI's block device names its key, or only its snapshot, whose key the snapshot listing gives."""
    snapshot_keys = dict((snapshot["SnapshotId"], snapshot.get("KmsKeyId")) for snapshot in ctx.snapshots())
    for image in items(ctx.client("ec2"), "describe_images", "Images", Owners=["self"]):
        for mapping in image.get("BlockDeviceMappings", []):
            ebs = mapping.get("Ebs") or {}
            key_ref = ebs.get("KmsKeyId") or snapshot_keys.get(ebs.get("SnapshotId"))
            if key_ref:
                yield Found("ami", image["ImageId"], None, key_ref, {
                    "name": image.get("Name"), "snapshot_id": ebs.get("SnapshotId"), "device": mapping.get("DeviceName")})
