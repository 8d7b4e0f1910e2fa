#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ebs_kms_migrate
short_description: Move EBS volumes and snapshots to a new KMS key, attached and root volumes included, with rollback
version_added: 0.1.0
description:
  - An EBS volume's KMS key cannot be changed in place. This module replaces each volume in scope with a copy under
    O(destination_key_id), and re-keys snapshots with C(CopySnapshot).
  - An unattached volume is snapshotted, and a new volume is created from the snapshot under the destination key in
    the same Availability Zone with the same size, type, IOPS, throughput, multi-attach flag and tags.
  - A volume attached to an instance (root or data) is swapped during one stop of the instance, for all of that
    instance's volumes in scope. A first snapshot is taken while the instance runs. The instance is stopped (only with
    O(allow_stop=true)). A second, incremental snapshot is taken, so the stopped window is short. The replacement is
    built from the second snapshot only, never from one taken while the instance was still writing. Then the old
    volume is detached, the new one attached at the same device with the same C(DeleteOnTermination), the instance
    started again if it was running, and the result verified.
  - Any failure during a swap rolls back. Once the instance is stopped, the old volumes are attached again at their
    devices, the instance is returned to its prior state, and the copies this swap made are deleted. Nothing of the
    user's is deleted before the new volume is attached and verified.
  - A swap is not rolled back once the instance has run on its new volumes, since they then hold its writes. The
    task fails for that instance, the new volumes stay in place, the sources stay tagged, and a rerun finishes the
    swap.
  - An instance with instance storage (instance-store volumes, which AWS erases when the instance stops) is not
    stopped unless O(allow_instance_store_loss=true).
  - One run at a time swaps an instance. While a run swaps it, the instance carries a lease, the tag
    C(kmsrotate:lease) naming the run and when the lease expires. Another run waits for the lease, up to
    O(wait_timeout), then plans the instance's volumes again. A run that dies leaves its lease to expire, after
    O(wait_timeout) plus 15 minutes from its last renewal, and a later run then takes it over and resumes the swap.
    A run never rolls back a swap whose lease another run holds. Killing C(ansible-playbook) leaves the module's async
    job running, so a rerun started at once waits for that job.
  - Idempotent and resumable. Work in progress is tagged (C(kmsrotate:source-volume) on temporary snapshots and the
    new volume, C(kmsrotate:swap) on a source volume during its swap, C(kmsrotate:source-snapshot) on a snapshot
    copy, C(kmsrotate:replaced-by) on a kept source). A run interrupted at any step finds this work and continues
    without duplicates. A second run reports no change.
  - What an interrupted run left is used again only while it still holds all the volume's data. Its final snapshot,
    and the new volume made from it, are discarded and made again when the source volume was attached since the
    snapshot started (C(AttachTime) against C(StartTime)), when its instance was started since (C(LaunchTime)), or
    when its instance is not stopped. An attachment or launch that cannot be dated counts as newer. A new volume
    made under another key by a run with another destination is never used.
  - A snapshot copy gets the source's description and its C(createVolumePermission), that is the accounts the source
    is shared with. Both are set before the source is tagged or deleted. A copy under another key is not used.
  - Volumes of different instances, unattached volumes and snapshots are processed in parallel, up to
    O(concurrency) at a time. The pool shrinks while EC2 throttles.
  - The task fails when a volume or snapshot failed, after finishing all the others. The result then still lists
    what succeeded.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  volume_ids:
    description:
      - EBS volumes to move. An unknown id fails the task before anything changes.
      - Together with O(filters), the volumes named here and the volumes matching the filters are both in scope.
      - At least one of O(volume_ids), O(filters), O(snapshot_ids) and O(snapshot_filters) is required.
    type: list
    elements: str
  filters:
    description:
      - EC2 C(DescribeVolumes) filters selecting volumes to move, for example the key C(tag:env) with the value C(prod).
      - See U(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVolumes.html) for the filter names.
      - At least one of O(volume_ids), O(filters), O(snapshot_ids) and O(snapshot_filters) is required.
    type: dict
  snapshot_ids:
    description:
      - EBS snapshots to re-key with C(CopySnapshot). An unknown id fails the task before anything changes.
      - At least one of O(volume_ids), O(filters), O(snapshot_ids) and O(snapshot_filters) is required.
    type: list
    elements: str
  snapshot_filters:
    description:
      - EC2 C(DescribeSnapshots) filters selecting snapshots to re-key. Only the account's own snapshots are searched.
      - The temporary snapshots this module makes are never re-keyed as targets.
      - At least one of O(volume_ids), O(filters), O(snapshot_ids) and O(snapshot_filters) is required.
    type: dict
  allow_stop:
    description:
      - Whether the module may stop an instance to swap a volume attached to it.
      - When V(false), volumes attached to a running instance are reported as C(needs_stop) and left untouched. They
        count in RV(blocking).
      - Volumes attached to a stopped instance are swapped either way, and the instance stays stopped.
      - An instance with instance storage is stopped only with O(allow_instance_store_loss=true) as well.
    type: bool
    default: false
  allow_instance_store_loss:
    description:
      - Whether the module may stop an instance that has instance storage, whose data AWS erases when the instance
        stops.
      - Instance storage is found in the instance's block device mappings (a device that is not EBS, for example
        C(ephemeral0)) and in its instance type (C(InstanceStorageInfo) of C(DescribeInstanceTypes)), root device or
        not.
      - When V(false), the volumes of a running instance with instance storage are C(failed), with a reason naming
        the instance and what it would lose. If the instance type cannot be read, they fail too.
      - An instance whose root device is instance store cannot be stopped at all. Its volumes fail either way.
      - Stopped instances are swapped without a stop and are not affected.
    type: bool
    default: false
  source_volume:
    description:
      - What becomes of a replaced volume once its replacement is attached and verified.
      - V(keep) leaves it detached and tagged C(kmsrotate:replaced-by=<new volume id>). Later runs report it as
        C(retained). If it is attached to an instance again, later runs report it as C(reattached), which blocks.
      - V(delete) deletes it.
    type: str
    choices: [keep, delete]
    default: keep
  source_snapshot:
    description:
      - What becomes of a re-keyed snapshot once its copy is completed.
      - V(keep) leaves it tagged C(kmsrotate:replaced-by=<copy id>). V(delete) deletes it.
    type: str
    choices: [keep, delete]
    default: keep
  keep_temporary_snapshots:
    description:
      - Keep the snapshots taken to build new volumes, tagged with C(kmsrotate:source-volume). They are under the
        source key.
      - By default they are deleted once the new volume is in place.
    type: bool
    default: false
  concurrency:
    description:
      - Maximum units of work in flight, at least 1. A unit is an unattached volume, an instance (all its volumes in
        scope), or a snapshot.
    default: 8
  wait_timeout:
    description:
      - Seconds to wait for each snapshot, volume or instance state change, at least 1. On AWS a first snapshot of a
        large volume can take hours.
      - When a wait times out, the task fails for that unit. Running the task again resumes where it stopped.
    type: int
    default: 3600
notes:
  - Unencrypted volumes and snapshots are always reported as C(skipped), whatever O(source_key_ids) says, since no
    key depends on them.
  - A retained source volume (O(source_volume=keep)), a retained source snapshot and kept temporary snapshots are
    still under the source key. They are reported as C(retained), not in RV(blocking), because a copy under the
    destination key holds their data. Disabling the source key makes them unreadable. Enabling it again makes them
    readable.
  - "API calls, measured on the local endpoint where every wait passes at its first poll: an unattached volume costs
    11 EC2 requests (1 C(CreateSnapshot), 1 C(CreateVolume), 1 C(CreateTags), 1 C(DeleteSnapshot), the rest
    look-ups of earlier work and waits). An instance with two volumes costs 60 (per volume 2 C(CreateSnapshot), 1
    C(CreateVolume), 1 C(DetachVolume), 1 C(AttachVolume), 2 C(DeleteSnapshot), 2 C(CreateTags) and 1
    C(DeleteTags); per instance 1 C(StopInstances), 1 C(StartInstances), at most 1 C(ModifyInstanceAttribute), 1
    C(CreateTags) and 1 C(DeleteTags) for the lease, 11 C(DescribeInstances), and 1 C(DescribeInstanceTypes) per
    instance type in the run). A snapshot costs 7 (1 C(CopySnapshot), 1 C(DescribeSnapshotAttribute), 1
    C(CreateTags), and 1 C(ModifySnapshotAttribute) when the source is shared). Planning costs one describe call per
    page of volumes, snapshots and 200 instances, and one C(DescribeKey) per distinct key. On AWS each wait adds one
    describe call per 5 seconds, and a run waiting for another run's lease one C(DescribeInstances) per 5 seconds."
  - Permissions needed are C(ec2:DescribeVolumes), C(ec2:DescribeSnapshots), C(ec2:DescribeInstances),
    C(ec2:DescribeInstanceTypes), C(ec2:DescribeSnapshotAttribute), C(ec2:CreateSnapshot), C(ec2:CreateVolume),
    C(ec2:CopySnapshot), C(ec2:ModifySnapshotAttribute), C(ec2:AttachVolume), C(ec2:DetachVolume),
    C(ec2:StopInstances), C(ec2:StartInstances), C(ec2:ModifyInstanceAttribute), C(ec2:CreateTags) and
    C(ec2:DeleteTags) (volumes, snapshots and instances), C(ec2:DeleteSnapshot), C(ec2:DeleteVolume), and on the keys
    C(kms:DescribeKey),
    C(kms:CreateGrant), C(kms:Decrypt) (source) and C(kms:GenerateDataKeyWithoutPlaintext), C(kms:ReEncrypt*)
    (destination) for EBS to use them. The module itself never calls KMS C(Decrypt) or C(GenerateDataKey).
  - Supports check mode. It lists per volume and snapshot what would be done, and which instances would be stopped,
    and changes nothing.
extends_documentation_fragment:
  - kmsrotate.aws.rekey
  - kmsrotate.aws.concurrency
  - kmsrotate.aws.progress
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Move every volume tagged env=prod to the new key, stopping instances where needed
  kmsrotate.aws.ebs_kms_migrate:
    destination_key_id: alias/ebs-2025
    filters:
      "tag:env": prod
    allow_stop: true
  register: ebs_migration

- name: Only volumes and snapshots under the old key; delete replaced sources once verified
  kmsrotate.aws.ebs_kms_migrate:
    destination_key_id: arn:aws:kms:us-east-1:111122223333:key/9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
    source_key_ids:
      - alias/ebs-2024
    volume_ids:
      - vol-09be7ec8867c85f21
    snapshot_filters:
      "tag:backup": nightly
    source_volume: delete
    source_snapshot: delete

- name: Plan only, and list the instances that would be stopped
  kmsrotate.aws.ebs_kms_migrate:
    destination_key_id: alias/ebs-2025
    filters:
      "tag:team": data
    allow_stop: true
  check_mode: true
  register: plan

- name: Show them
  ansible.builtin.debug:
    msg: "{{ plan.instances_stopped }}"
"""

RETURN = r"""
volumes:
  description: One entry per volume in scope.
  returned: always
  type: list
  elements: dict
  contains:
    volume_id:
      description: The source volume.
      type: str
    new_volume_id:
      description: Its replacement under the destination key, when migrated (not in check mode).
      type: str
    action:
      description: >-
        C(migrated) (or would be, in check mode), C(unchanged) (already under the destination key, or replaced and
        deleted by another run while this one waited for the instance's lease), C(retained) (a source kept after an
        earlier migration), C(skipped) (unencrypted, or under a key outside O(source_key_ids)), C(needs_stop)
        (attached to a running instance and O(allow_stop=false)), C(reattached) (a source replaced in an earlier run
        and attached to an instance again, so in use under the source key), or C(failed).
      type: str
    changed:
      description: Whether this volume was (or would be) migrated.
      type: bool
    reason:
      description: Why it was not migrated.
      type: str
    fix:
      description: What to do about a C(failed), C(needs_stop) or C(reattached) volume.
      type: str
    source_key_arn:
      description: The key the volume was under.
      type: str
    destination_key_arn:
      description: The key its data is under after the task.
      type: str
    instance_id:
      description: The instance it is attached to.
      type: str
    device:
      description: Its device name on the instance.
      type: str
    attachment:
      description: C(root), C(data) or C(none).
      type: str
    delete_on_termination:
      description: The attachment's C(DeleteOnTermination) flag, given to the new attachment too.
      type: bool
    instance_stopped:
      description: Whether the instance was (or would be) stopped for the swap.
      type: bool
    stopped_seconds:
      description: How long the instance was stopped.
      type: float
    availability_zone:
      description: The volume's Availability Zone, which the new volume shares.
      type: str
    size:
      description: Size in GiB.
      type: int
    volume_type:
      description: The volume type, which the new volume shares.
      type: str
    iops:
      description: Provisioned IOPS, which the new volume shares.
      type: int
    throughput:
      description: Throughput in MiB/s (gp3), which the new volume shares.
      type: int
    multi_attach_enabled:
      description: The multi-attach flag, which the new volume shares.
      type: bool
  sample:
    - volume_id: vol-09be7ec8867c85f21
      new_volume_id: vol-017bbdf1b17c1c8b6
      action: migrated
      changed: true
      source_key_arn: arn:aws:kms:us-east-1:111122223333:key/d6f8b1ee-032c-4244-9d44-827861e6f9fa
      destination_key_arn: arn:aws:kms:us-east-1:111122223333:key/3d70f1b8-7a3b-4e9e-a6b9-6db1a6471f5d
      instance_id: i-0abc1234def567890
      device: /dev/sdf
      attachment: data
      delete_on_termination: true
      instance_stopped: true
      stopped_seconds: 74.2
      availability_zone: us-east-1a
      size: 10
      volume_type: gp3
      iops: 3000
      throughput: 125
      multi_attach_enabled: false
snapshots:
  description: One entry per snapshot in scope.
  returned: always
  type: list
  elements: dict
  contains:
    snapshot_id:
      description: The source snapshot.
      type: str
    new_snapshot_id:
      description: Its copy under the destination key, when re-keyed (not in check mode).
      type: str
    action:
      description: C(rekeyed) (or would be), C(unchanged), C(retained), C(skipped) or C(failed).
      type: str
    changed:
      description: Whether it was (or would be) re-keyed.
      type: bool
    reason:
      description: Why it was not re-keyed.
      type: str
    fix:
      description: What to do about a failed snapshot.
      type: str
    source_key_arn:
      description: The key it was under.
      type: str
    destination_key_arn:
      description: The key its data is under after the task.
      type: str
    volume_id:
      description: The volume it was taken from.
      type: str
    description:
      description: Its description, copied to the new snapshot.
      type: str
    volume_size:
      description: Size in GiB.
      type: int
instances:
  description: The instances whose volumes were in scope.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance.
      type: str
    state_before:
      description: Its state before the task, which it is returned to.
      type: str
    stopped:
      description: Whether the task stopped it (or would, in check mode).
      type: bool
    stopped_seconds:
      description: How long it was stopped.
      type: float
    volume_ids:
      description: Its volumes in scope.
      type: list
      elements: str
instances_stopped:
  description: Ids of the instances stopped (in check mode, that would be stopped).
  returned: always
  type: list
  elements: str
counts:
  description: Volumes and snapshots per action.
  returned: always
  type: dict
  contains:
    volumes:
      description: Volumes per RV(volumes[].action).
      type: dict
    snapshots:
      description: Snapshots per RV(snapshots[].action).
      type: dict
  sample:
    volumes: {"migrated": 2, "unchanged": 0, "retained": 0, "skipped": 1, "needs_stop": 0, "reattached": 0,
              "failed": 0}
    snapshots: {"rekeyed": 1, "unchanged": 0, "retained": 0, "skipped": 0, "failed": 0}
blocking:
  description:
    - How many volumes and snapshots in scope still depend on a source key after the task (C(needs_stop),
      C(reattached) and C(failed); in check mode, also those that would move). The rotation role refuses to retire the key while it
      is not zero.
  returned: always
  type: int
  sample: 0
blocking_resources:
  description: Ids of the volumes and snapshots counted in RV(blocking).
  returned: always
  type: list
  elements: str
dependents:
  description:
    - What in scope still depends on a source key, one entry per volume or snapshot, in the vocabulary every data
      module of this collection returns.
    - C(to_move) (check mode only) is a C(migrated) volume or a C(rekeyed) snapshot a run would move; for an attached
      volume the reason names its instance and whether the run stops it.
    - C(blocking) is a C(needs_stop), C(reattached) or C(failed) volume or snapshot; the reason includes the fix. A
      C(reattached) volume's reason names the instance it is attached to again.
    - C(retained) is a source kept after its replacement (O(source_volume=keep), O(source_snapshot=keep)). It does not
      hold the key's retirement back.
    - C(skipped) and C(unchanged) items, and what a real run moved, are not listed.
  returned: always
  type: list
  elements: dict
  contains:
    resource:
      description: The volume or snapshot id.
      type: str
    service:
      description: C(ebs_volumes) or C(ebs_snapshots).
      type: str
    kind:
      description: C(to_move), C(blocking) or C(retained).
      type: str
    reason:
      description: Why it still depends on the key, in words a user can act on.
      type: str
    key_arn:
      description: The source key it is under.
      type: str
    count:
      description: Always 1 (one entry per volume or snapshot).
      type: int
  sample:
    - resource: vol-0123456789abcdef0
      service: ebs_volumes
      kind: blocking
      reason: >-
        attached to running instance i-0abc1234def567890; allow_stop is false. Fix: set allow_stop: true, or stop the
        instance in a maintenance window, then run again.
      key_arn: arn:aws:kms:us-east-1:111122223333:key/d6f8b1ee-032c-4244-9d44-827861e6f9fa
      count: 1
    - resource: snap-0fedcba9876543210
      service: ebs_snapshots
      kind: retained
      reason: replaced by snap-01234567890abcdef; kept as asked (source_snapshot=keep)
      key_arn: arn:aws:kms:us-east-1:111122223333:key/d6f8b1ee-032c-4244-9d44-827861e6f9fa
      count: 1
failures:
  description: The volumes and snapshots that failed, each with the reason and the fix.
  returned: always
  type: list
  elements: dict
  sample:
    - resource: vol-0123456789abcdef0
      reason: instance i-0abc1234def567890 is pending, a state it cannot be stopped from
      fix: wait until the instance is running or stopped, then run again.
destination_key_arn:
  description: The resolved destination key ARN.
  returned: always
  type: str
destination_key_id:
  description: The resolved destination key id.
  returned: always
  type: str
source_key_arns:
  description: The resolved O(source_key_ids), as ARNs.
  returned: always
  type: list
  elements: str
throttling:
  description: How EC2 throttling affected the run.
  returned: always
  type: dict
  contains:
    throttle_events:
      description: Throttled requests, each retried.
      type: int
    concurrency:
      description: The configured O(concurrency).
      type: int
    lowest_concurrency:
      description: The lowest concurrency the module fell back to while throttled.
      type: int
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.migrate import EbsMigration


def main():
    argument_spec = dict(
        volume_ids=dict(type="list", elements="str"),
        filters=dict(type="dict"),
        snapshot_ids=dict(type="list", elements="str"),
        snapshot_filters=dict(type="dict"),
        destination_key_id=dict(type="str", required=True),
        source_key_ids=dict(type="list", elements="str", default=[], no_log=False),
        allow_stop=dict(type="bool", default=False),
        allow_instance_store_loss=dict(type="bool", default=False),
        source_volume=dict(type="str", choices=["keep", "delete"], default="keep"),
        source_snapshot=dict(type="str", choices=["keep", "delete"], default="keep"),
        keep_temporary_snapshots=dict(type="bool", default=False),
        concurrency=dict(type="int", default=8),
        wait_timeout=dict(type="int", default=3600),
        progress_file=dict(type="path"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec,
                              required_one_of=[("volume_ids", "filters", "snapshot_ids", "snapshot_filters")],
                              supports_check_mode=True)
    run_module(module, EbsMigration)


if __name__ == "__main__":
    main()
