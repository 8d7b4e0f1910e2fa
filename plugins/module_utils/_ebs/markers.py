# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The tags that mark ebs_kms_migrate's work in progress, and the helpers that read and write tags.

Everything this collection creates or changes on the way to a new volume or
snapshot carries a `kmsrotate:` tag naming what it belongs to, so a run that
was interrupted at any step finds its own work again instead of making a
second copy:

- temporary snapshots and the replacement volume: SOURCE_VOLUME_TAG = source volume id
  (temporary snapshots also SNAPSHOT_PHASE_TAG: `live` or `final`);
- a source volume while it is being swapped on an instance: SWAP_TAG, the
  attachment and instance state to restore (see SwapRecord);
- a re-keyed snapshot copy: SOURCE_SNAPSHOT_TAG = source snapshot id;
- a source volume or snapshot kept after it was replaced: REPLACED_BY_TAG;
- an instance while one run swaps its volumes: LEASE_TAG (see lease.py).
"""

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

TAG_PREFIX = "kmsrotate:"
SOURCE_VOLUME_TAG = TAG_PREFIX + "source-volume"
SNAPSHOT_PHASE_TAG = TAG_PREFIX + "snapshot-phase"
SWAP_TAG = TAG_PREFIX + "swap"
SOURCE_SNAPSHOT_TAG = TAG_PREFIX + "source-snapshot"
REPLACED_BY_TAG = TAG_PREFIX + "replaced-by"
LEASE_TAG = TAG_PREFIX + "lease"


def tags_of(resource):
    return boto3_tag_list_to_ansible_dict(resource.get("Tags") or [])


def user_tags(resource):
    """The tags a copy should carry: the user's, not AWS's reserved ones nor our markers."""
    return dict((key, value) for key, value in tags_of(resource).items()
                if not key.startswith("aws:") and not key.startswith(TAG_PREFIX))


def tag_specification(resource_type, tags):
    return [{"ResourceType": resource_type, "Tags": ansible_dict_to_boto3_tag_list(tags)}] if tags else []


class SwapRecord(object):
    """What a swap must restore, written on the source volume before the instance is touched.

    The value survives an interrupted run, when the source volume may already
    be detached and the instance stopped by us, so the rerun still knows the
    device, DeleteOnTermination and whether to start the instance again.
    """

    __slots__ = ("instance_id", "device", "delete_on_termination", "instance_state")

    def __init__(self, instance_id, device, delete_on_termination, instance_state):
        self.instance_id = instance_id
        self.device = device
        self.delete_on_termination = bool(delete_on_termination)
        self.instance_state = instance_state

    def encode(self):
        return "instance={0};device={1};delete-on-termination={2};instance-state={3}".format(
            self.instance_id, self.device, str(self.delete_on_termination).lower(), self.instance_state)

    @classmethod
    def decode(cls, value):
        fields = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
        try:
            return cls(fields["instance"], fields["device"], fields["delete-on-termination"] == "true",
                       fields["instance-state"])
        except KeyError:
            return None
