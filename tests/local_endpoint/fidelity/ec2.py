"""EC2/EBS as AWS documents it, where moto 5.2 differs.

- CreateSnapshot of an encrypted volume: the snapshot carries the volume's
  KmsKeyId (moto leaves it empty).
- CreateVolume from a snapshot without KmsKeyId uses the snapshot's key
  (moto falls back to the account's default EBS key).
- CreateVolume and CopySnapshot naming a key that does not exist fail with
  InvalidKMSKey.NotFound, and naming a key that is not Enabled with
  InvalidKMSKey.InvalidState; so does CreateVolume from a snapshot whose key
  is not Enabled. AWS parses KmsKeyId asynchronously and may report this
  later, as a volume in the `error` state; failing at once is the stricter
  of the two and what a careful client must survive either way.
- The key is stored and reported as its ARN, whatever form was sent.
- AttachVolume of a volume that is already attached fails with VolumeInUse
  (moto re-attaches it and leaves a stale mapping on the first instance).
- DetachVolume of the root volume of an instance that is not stopped fails
  with IncorrectState (moto detaches it).
- DetachVolume without InstanceId detaches the volume from the instance it
  is attached to (moto answers HTTP 500).
- DescribeVolumes attachments report DeleteOnTermination (moto omits it).
- A volume not created from a snapshot reports SnapshotId "" (moto omits
  the field, and amazon.aws.ec2_vol_info fails with KeyError on it).
- An instance's LaunchTime is the time it was last started: StartInstances
  of a stopped instance moves it (moto keeps the first launch's time).
"""

import functools

from moto.ec2.exceptions import EC2ClientError, VolumeInUseError
from moto.core.utils import utcnow
from moto.ec2.models import elastic_block_store as ebs_models
from moto.ec2.models import instances as instance_models
from moto.kms import kms_backends

_installed = False


def _kms_key(backend, key_ref):
    """moto's KMS key named by any reference, or the error AWS gives."""
    kms = kms_backends[backend.account_id][backend.region_name]
    try:
        key = kms.keys[kms.get_key_id(kms.any_id_to_key_id(key_ref))]
    except Exception:  # moto raises KeyError or its NotFoundException, depending on the form
        raise EC2ClientError("InvalidKMSKey.NotFound", f"The KMS key {key_ref} does not exist.") from None
    if key.key_state != "Enabled":
        raise EC2ClientError("InvalidKMSKey.InvalidState",
                             f"The KMS key {key.arn} is {key.key_state}, not Enabled.")
    return key


def _patch_create_volume(original):
    @functools.wraps(original)
    def create_volume(self, size, zone_name, snapshot_id=None, encrypted=False, kms_key_id=None, **kwargs):
        if snapshot_id and not kms_key_id:
            snapshot = self.get_snapshot(snapshot_id)
            if snapshot.kms_key_id:
                kms_key_id = snapshot.kms_key_id
                encrypted = True
        if kms_key_id:
            kms_key_id = _kms_key(self, kms_key_id).arn
        volume = original(self, size, zone_name, snapshot_id=snapshot_id, encrypted=encrypted,
                          kms_key_id=kms_key_id, **kwargs)
        volume.snapshot_id = volume.snapshot_id or ""
        return volume
    return create_volume


def _patch_create_snapshot(original):
    @functools.wraps(original)
    def create_snapshot(self, volume_id, description, owner_id=None, from_ami=None):
        snapshot = original(self, volume_id, description, owner_id=owner_id, from_ami=from_ami)
        snapshot.kms_key_id = snapshot.volume.kms_key_id
        return snapshot
    return create_snapshot


def _patch_copy_snapshot(original):
    @functools.wraps(original)
    def copy_snapshot(self, source_snapshot_id, source_region, description, kms_key_id):
        source = self.get_snapshot(source_snapshot_id)
        key_ref = kms_key_id or source.kms_key_id
        key_arn = _kms_key(self, key_ref).arn if key_ref else None
        return original(self, source_snapshot_id, source_region, description, key_arn)
    return copy_snapshot


def _patch_attach_volume(original):
    @functools.wraps(original)
    def attach_volume(self, volume_id, instance_id, device_path, delete_on_termination=False):
        volume = self.get_volume(volume_id)
        if volume.attachment is not None:
            raise VolumeInUseError(volume_id, volume.attachment.instance.id)
        return original(self, volume_id, instance_id, device_path, delete_on_termination)
    return attach_volume


def _patch_detach_volume(original):
    @functools.wraps(original)
    def detach_volume(self, volume_id, instance_id, device_path):
        volume = self.get_volume(volume_id)
        attachment = volume.attachment
        if attachment is not None:
            instance = attachment.instance
            state = instance._state.name  # pylint: disable=protected-access
            if attachment.device == instance.root_device_name and state != "stopped":
                raise EC2ClientError(
                    "IncorrectState",
                    f"Unable to detach root volume '{volume_id}' from instance '{instance.id}': instance is {state}.")
            instance_id = instance_id or instance.id
        return original(self, volume_id, instance_id, device_path)
    return detach_volume


def _patch_start(original):
    @functools.wraps(original)
    def start(self):
        previous_state = original(self)
        if previous_state.name != "running":
            self.launch_time = utcnow()
        return previous_state
    return start


def _attachment_delete_on_termination(attachment):
    mapping = attachment.instance.block_device_mapping.get(attachment.device)
    return bool(mapping is not None and mapping.delete_on_termination)


def install():
    global _installed
    if _installed:
        return
    backend = ebs_models.EBSBackend
    backend.create_volume = _patch_create_volume(backend.create_volume)
    backend.create_snapshot = _patch_create_snapshot(backend.create_snapshot)
    backend.copy_snapshot = _patch_copy_snapshot(backend.copy_snapshot)
    backend.attach_volume = _patch_attach_volume(backend.attach_volume)
    backend.detach_volume = _patch_detach_volume(backend.detach_volume)
    instance_models.Instance.start = _patch_start(instance_models.Instance.start)
    # The response serializer reads attachment fields as snake_case attributes.
    ebs_models.VolumeAttachment.delete_on_termination = property(_attachment_delete_on_termination)
    _installed = True
