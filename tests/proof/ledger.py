"""The ledger: what the estate held before the rotation, and the check that nothing of it was lost.

`Ledger.record` reads, before the first run, through the endpoint: each
data key's plaintext (Decrypt), each object version's bytes and attributes,
each volume's and snapshot's attributes, each instance's state and block
device mappings, the customer keys and the aliases. `Ledger.problems`
reads everything again after the last run and lists each difference, as a
sentence naming the resource; an empty list is the proof.

What counts as kept:
- a data key: the file decrypts to the same plaintext, under the destination key;
- an object version: the same version id still exists with the same bytes,
  content type, user metadata, tags, storage class and ACL grants, under the
  destination key; a key's current content is the same and under the
  destination key; delete markers are still there; no object was added
  (probes, copies) and no version appeared beside the recorded ones, except
  the `written` ones a test wrote itself during the run (checked by that test);
- a volume: exactly one replacement tagged with its id, built from a
  snapshot, under the destination key, with the same size, type, IOPS,
  throughput, zone, multi-attach and user tags; an attached one is at the
  same device of the same instance with the same DeleteOnTermination, and
  the old one is detached; the source is kept and names its replacement;
- a snapshot: exactly one copy tagged with its id, completed, under the
  destination key, with the same description, size and user tags; the source
  is kept and names its copy; no temporary snapshot is left;
- an instance: running, with the same type;
- KMS: exactly one successor key tagged with the source key's ARN, one new
  customer key in all, every alias that named the source names it.
"""

import base64
import hashlib

SOURCE_KEY_TAG = "kmsrotate:source-key-arn"
SOURCE_VOLUME_TAG = "kmsrotate:source-volume"
SOURCE_SNAPSHOT_TAG = "kmsrotate:source-snapshot"
SNAPSHOT_PHASE_TAG = "kmsrotate:snapshot-phase"
REPLACED_BY_TAG = "kmsrotate:replaced-by"
_GONE = ("deleting", "deleted", "error")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def _tags(resource):
    return dict((tag["Key"], tag["Value"]) for tag in resource.get("Tags") or [])


def _user_tags(resource):
    return dict((key, value) for key, value in _tags(resource).items()
                if not key.startswith("kmsrotate:") and not key.startswith("aws:"))


def _grants(acl):
    return sorted((grant["Grantee"].get("ID") or grant["Grantee"].get("URI") or grant["Grantee"].get("EmailAddress"),
                   grant["Permission"]) for grant in acl.get("Grants", []))


def read_version(s3, bucket, key, version_id):
    """Bytes and attributes of one object version, or None when it does not exist."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
    except s3.exceptions.NoSuchKey:
        return None
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchVersion", "404", "InvalidArgument"):
            return None
        raise
    tags = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)["TagSet"]
    return {
        "sha256": sha256(answer["Body"].read()),
        "content_type": answer.get("ContentType"),
        "metadata": answer.get("Metadata", {}),
        "storage_class": answer.get("StorageClass", "STANDARD"),
        "tags": sorted((tag["Key"], tag["Value"]) for tag in tags),
        "grants": _grants(s3.get_object_acl(Bucket=bucket, Key=key, VersionId=version_id)),
        "kms_key": answer.get("SSEKMSKeyId"),
    }


def list_versions(s3, bucket):
    """({(key, version id): is latest}, {(key, version id) of delete markers})."""
    versions, markers = {}, set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []):
            versions[(entry["Key"], entry["VersionId"])] = entry["IsLatest"]
        for entry in page.get("DeleteMarkers", []):
            markers.add((entry["Key"], entry["VersionId"]))
    return versions, markers


def _volume_attributes(volume):
    return {"size": volume["Size"], "type": volume["VolumeType"], "iops": volume.get("Iops"),
            "throughput": volume.get("Throughput"), "zone": volume["AvailabilityZone"],
            "multi_attach": bool(volume.get("MultiAttachEnabled")), "tags": _user_tags(volume)}


def _snapshot_attributes(snapshot):
    return {"description": snapshot.get("Description", ""), "size": snapshot["VolumeSize"],
            "tags": _user_tags(snapshot)}


def _instances(ec2, instance_ids):
    found = {}
    for reservation in ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]:
        for instance in reservation["Instances"]:
            found[instance["InstanceId"]] = {
                "state": instance["State"]["Name"], "type": instance["InstanceType"],
                "devices": dict((mapping["DeviceName"], (mapping["Ebs"]["VolumeId"],
                                                         bool(mapping["Ebs"].get("DeleteOnTermination"))))
                                for mapping in instance.get("BlockDeviceMappings", []))}
    return found


def customer_keys(kms):
    return sorted(key["KeyArn"] for key in kms.list_keys()["Keys"]
                  if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyManager"] == "CUSTOMER")


def successor_keys(kms, source_arn):
    return sorted(key["KeyArn"] for key in kms.list_keys()["Keys"]
                  if {"TagKey": SOURCE_KEY_TAG, "TagValue": source_arn}
                  in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"])


def alias_targets(kms):
    """The customer aliases and the key ARN each names (AWS's own alias/aws/* are left out)."""
    return dict((alias["AliasName"], kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"])
                for alias in kms.list_aliases()["Aliases"]
                if alias.get("TargetKeyId") and not alias["AliasName"].startswith("alias/aws/"))


class Ledger:
    def __init__(self, endpoint, estate):
        self.endpoint = endpoint
        self.estate = estate
        self.blobs = {}
        self.versions = {}  # (bucket, key, version id) -> attributes, with is_latest
        self.markers = set()  # (bucket, key, version id)
        self.volumes = {}
        self.snapshots = {}
        self.instances = {}
        self.customer_keys = []
        self.aliases = {}
        self.volume_count = 0
        self.snapshot_count = 0

    @classmethod
    def record(cls, endpoint, estate):
        ledger = cls(endpoint, estate)
        kms, s3, ec2 = endpoint.client("kms"), endpoint.client("s3"), endpoint.client("ec2")
        for path in estate.data_key_paths:
            ledger.blobs[path] = sha256(kms.decrypt(CiphertextBlob=read_blob(path))["Plaintext"])
        for bucket in estate.buckets:
            versions, markers = list_versions(s3, bucket)
            for (key, version_id), latest in versions.items():
                ledger.versions[(bucket, key, version_id)] = dict(read_version(s3, bucket, key, version_id),
                                                                  is_latest=latest)
            ledger.markers |= {(bucket, key, version_id) for key, version_id in markers}
        for volume in ec2.describe_volumes(VolumeIds=estate.volume_ids)["Volumes"]:
            ledger.volumes[volume["VolumeId"]] = _volume_attributes(volume)
        for snapshot in ec2.describe_snapshots(SnapshotIds=estate.snapshot_ids)["Snapshots"]:
            ledger.snapshots[snapshot["SnapshotId"]] = _snapshot_attributes(snapshot)
        ledger.instances = _instances(ec2, estate.instance_ids)
        ledger.customer_keys = customer_keys(kms)
        ledger.aliases = alias_targets(kms)
        ledger.volume_count = len(ec2.describe_volumes()["Volumes"])
        ledger.snapshot_count = len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])
        return ledger

    # The check ---------------------------------------------------------------------

    def problems(self, destination_arn, written=frozenset()):
        """Every difference from the ledger, as sentences; empty when nothing was lost.

        written: (bucket, key, version id) of versions a test wrote during the run; a key with one of them
        may have it as its current version.
        """
        kms, s3, ec2 = (self.endpoint.client(name) for name in ("kms", "s3", "ec2"))
        found = []
        found += self._key_problems(kms, destination_arn)
        found += self._blob_problems(kms, destination_arn)
        for bucket in self.estate.buckets:
            found += self._bucket_problems(s3, bucket, destination_arn,
                                           set((key, version_id) for name, key, version_id in written if name == bucket))
        found += self._ebs_problems(ec2, destination_arn)
        return found

    def _key_problems(self, kms, destination_arn):
        found = []
        source = self.estate.source_key_arn
        successors = successor_keys(kms, source)
        if successors != [destination_arn]:
            found.append("successor keys of {0}: {1} (expected exactly {2})".format(source, successors, destination_arn))
        added = sorted(set(customer_keys(kms)) - set(self.customer_keys))
        if added != [destination_arn]:
            found.append("customer keys created: {0} (expected only {1})".format(added, destination_arn))
        aliases = alias_targets(kms)
        for alias, target in sorted(self.aliases.items()):
            if target == source and aliases.get(alias) != destination_arn:
                found.append("{0} names {1}, not the destination key".format(alias, aliases.get(alias)))
        return found

    def _blob_problems(self, kms, destination_arn):
        found = []
        for path, fingerprint in sorted(self.blobs.items()):
            answer = kms.decrypt(CiphertextBlob=read_blob(path))
            if sha256(answer["Plaintext"]) != fingerprint:
                found.append("{0} no longer decrypts to its data key".format(path))
            if answer["KeyId"] != destination_arn:
                found.append("{0} is under {1}".format(path, answer["KeyId"]))
        return found

    def lost(self):
        """Recorded object versions or delete markers that are gone or changed (whatever their key now)."""
        s3 = self.endpoint.client("s3")
        found = []
        for bucket in self.estate.buckets:
            found += self._content_problems(s3, bucket, *list_versions(s3, bucket))[0]
        return found

    def _content_problems(self, s3, bucket, versions, markers):
        """(problems, {(key, version id): what it is now}) of the recorded versions of one bucket."""
        found, now_by_version = [], {}
        for (name, key, version_id), before in sorted(self.versions.items()):
            if name != bucket:
                continue
            where = "s3://{0}/{1}?versionId={2}".format(bucket, key, version_id)
            now = read_version(s3, bucket, key, version_id) if (key, version_id) in versions else None
            if now is None:
                found.append("{0} is gone".format(where))
                continue
            now_by_version[(key, version_id)] = now
            found += ["{0}: {1} was {2!r}, is {3!r}".format(where, field, before[field], now[field])
                      for field in sorted(now) if field != "kms_key" and now[field] != before[field]]
        lost_markers = sorted((key, version_id) for name, key, version_id in self.markers
                              if name == bucket and (key, version_id) not in markers)
        if lost_markers:
            found.append("delete markers gone from {0}: {1}".format(bucket, lost_markers))
        return found, now_by_version

    def _bucket_problems(self, s3, bucket, destination_arn, written):
        versions, markers = list_versions(s3, bucket)
        found, now_by_version = self._content_problems(s3, bucket, versions, markers)
        found += ["s3://{0}/{1}?versionId={2} is under {3}".format(bucket, key, version_id, now["kms_key"])
                  for (key, version_id), now in sorted(now_by_version.items()) if now["kms_key"] != destination_arn]
        rewritten = set(key for key, _version_id in written)
        for (name, key, version_id), before in sorted(self.versions.items()):
            if name == bucket and before["is_latest"] and key not in rewritten:
                found += self._current_problems(s3, bucket, key, before, versions, destination_arn)
        recorded = set((key, version_id) for name, key, version_id in self.versions if name == bucket)
        added = sorted(entry for entry in versions if entry not in recorded and entry not in written)
        if added:
            found.append("versions in s3://{0} that no one wrote (a probe, a second copy): {1}".format(bucket, added))
        return found

    @staticmethod
    def _current_problems(s3, bucket, key, before, versions, destination_arn):
        latest = [version_id for (name, version_id), is_latest in versions.items() if name == key and is_latest]
        if not latest:
            return ["s3://{0}/{1} has no current version any more".format(bucket, key)]
        now = read_version(s3, bucket, key, latest[0])
        where = "current s3://{0}/{1} ({2})".format(bucket, key, latest[0])
        found = ["{0}: {1} was {2!r}, is {3!r}".format(where, name, before[name], now[name])
                 for name in sorted(now) if name != "kms_key" and now[name] != before[name]]
        if now["kms_key"] != destination_arn:
            found.append("{0} is under {1}".format(where, now["kms_key"]))
        return found

    def _ebs_problems(self, ec2, destination_arn):
        found = []
        volumes = [volume for volume in ec2.describe_volumes()["Volumes"] if volume["State"] not in _GONE]
        snapshots = [snapshot for snapshot in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
                     if snapshot["State"] not in _GONE]
        by_id = dict((volume["VolumeId"], volume) for volume in volumes)
        instances = _instances(ec2, self.estate.instance_ids)
        attached_before = dict((volume_id, (instance_id, device, delete_on_termination))
                               for instance_id, instance in self.instances.items()
                               for device, (volume_id, delete_on_termination) in instance["devices"].items())
        for volume_id, before in sorted(self.volumes.items()):
            replacements = [volume for volume in volumes if _tags(volume).get(SOURCE_VOLUME_TAG) == volume_id]
            if len(replacements) != 1:
                found.append("volume {0} has {1} replacement(s): {2}".format(
                    volume_id, len(replacements), [volume["VolumeId"] for volume in replacements]))
                continue
            new = replacements[0]
            found += self._volume_problems(volume_id, before, new, by_id, destination_arn)
            if volume_id in attached_before:
                instance_id, device, delete_on_termination = attached_before[volume_id]
                placed = instances[instance_id]["devices"].get(device)
                if placed != (new["VolumeId"], delete_on_termination):
                    found.append("{0} {1} holds {2}, expected ({3}, delete on termination {4})".format(
                        instance_id, device, placed, new["VolumeId"], delete_on_termination))
        for instance_id, before in sorted(self.instances.items()):
            now = instances[instance_id]
            if now["state"] != "running" or now["type"] != before["type"]:
                found.append("instance {0} is {1} {2}, was {3} {4}".format(
                    instance_id, now["state"], now["type"], before["state"], before["type"]))
        if len(volumes) != self.volume_count + len(self.volumes):
            found.append("{0} volumes exist, expected {1} (one replacement each)".format(
                len(volumes), self.volume_count + len(self.volumes)))
        for snapshot_id, before in sorted(self.snapshots.items()):
            found += self._snapshot_problems(snapshot_id, before, snapshots, destination_arn)
        temporary = [snapshot["SnapshotId"] for snapshot in snapshots if SNAPSHOT_PHASE_TAG in _tags(snapshot)]
        if temporary:
            found.append("temporary snapshots left: {0}".format(temporary))
        if len(snapshots) != self.snapshot_count + len(self.snapshots):
            found.append("{0} snapshots exist, expected {1} (one copy each)".format(
                len(snapshots), self.snapshot_count + len(self.snapshots)))
        return found

    @staticmethod
    def _volume_problems(volume_id, before, new, by_id, destination_arn):
        found = []
        now = _volume_attributes(new)
        found += ["volume {0}'s replacement {1}: {2} was {3!r}, is {4!r}".format(
            volume_id, new["VolumeId"], name, before[name], now[name]) for name in sorted(now) if now[name] != before[name]]
        if new.get("KmsKeyId") != destination_arn or not new.get("Encrypted"):
            found.append("volume {0}'s replacement {1} is under {2}".format(volume_id, new["VolumeId"], new.get("KmsKeyId")))
        if not new.get("SnapshotId"):
            found.append("volume {0}'s replacement {1} was not made from a snapshot: it is blank".format(
                volume_id, new["VolumeId"]))
        source = by_id.get(volume_id)
        if source is None:
            found.append("source volume {0} is gone".format(volume_id))
        elif source["Attachments"]:
            found.append("source volume {0} is still attached: {1}".format(volume_id, source["Attachments"]))
        elif _tags(source).get(REPLACED_BY_TAG) != new["VolumeId"]:
            found.append("source volume {0} names {1} as its replacement, not {2}".format(
                volume_id, _tags(source).get(REPLACED_BY_TAG), new["VolumeId"]))
        return found

    @staticmethod
    def _snapshot_problems(snapshot_id, before, snapshots, destination_arn):
        copies = [snapshot for snapshot in snapshots if _tags(snapshot).get(SOURCE_SNAPSHOT_TAG) == snapshot_id]
        if len(copies) != 1:
            return ["snapshot {0} has {1} copies: {2}".format(
                snapshot_id, len(copies), [snapshot["SnapshotId"] for snapshot in copies])]
        copy = copies[0]
        now = _snapshot_attributes(copy)
        found = ["snapshot {0}'s copy {1}: {2} was {3!r}, is {4!r}".format(
            snapshot_id, copy["SnapshotId"], name, before[name], now[name]) for name in sorted(now) if now[name] != before[name]]
        if copy.get("KmsKeyId") != destination_arn or copy["State"] != "completed":
            found.append("snapshot {0}'s copy {1} is {2} under {3}".format(
                snapshot_id, copy["SnapshotId"], copy["State"], copy.get("KmsKeyId")))
        source = [snapshot for snapshot in snapshots if snapshot["SnapshotId"] == snapshot_id]
        if not source:
            found.append("source snapshot {0} is gone".format(snapshot_id))
        elif _tags(source[0]).get(REPLACED_BY_TAG) != copy["SnapshotId"]:
            found.append("source snapshot {0} names {1} as its copy, not {2}".format(
                snapshot_id, _tags(source[0]).get(REPLACED_BY_TAG), copy["SnapshotId"]))
        return found


def read_blob(path):
    with open(path, "rb") as handle:
        return base64.b64decode(handle.read())
