"""A small estate that depends on one KMS key, and the proof that it moved.

Used by `make demo` (tools/demo.py) and the rotation role's integration
tests. Seeding and proof talk to the endpoint through boto3 directly; the
proof decrypts (it is the test's job to show content is unchanged), which
the collection itself never does.
"""

import base64
import hashlib
import os

ALIAS = "alias/demo-app"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


class Estate:
    """What was seeded: ids, and the content fingerprints the proof compares against."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.source_key_arn = None
        self.alias = ALIAS
        self.data_key_dir = os.path.join(self.workdir, "data-keys")
        self.data_key_plaintexts = {}  # path -> sha256 of the data key
        self.bucket = None
        self.object_versions = {}  # (key, version id) -> sha256 of the body
        self.volume_ids = []
        self.unattached_volume_id = None
        self.attached_volume_id = None
        self.instance_id = None
        self.snapshot_ids = []

    def host_vars(self):
        """The inventory host variables of the rotation unit for this estate."""
        return {
            "kms_rotation_source_key": self.source_key_arn,
            "kms_rotation_data_key_paths": [os.path.join(self.data_key_dir, "*.key")],
            "kms_rotation_s3_buckets": [self.bucket] if self.bucket else [],
            "kms_rotation_ebs_volume_ids": list(self.volume_ids),
            "kms_rotation_ebs_snapshot_ids": list(self.snapshot_ids),
            "kms_rotation_allow_stop": True,
        }


def seed(endpoint, workdir, data_keys=5, objects=20, versions=3, bucket="demo-versioned-data", ebs=True):
    """Create the estate on the endpoint; returns an Estate."""
    estate = Estate(workdir)
    kms = endpoint.client("kms")
    key = kms.create_key(Description="demo application key (source)")["KeyMetadata"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key["KeyId"])
    estate.source_key_arn = key["Arn"]

    os.makedirs(estate.data_key_dir, exist_ok=True)
    for number in range(data_keys):
        # Seeding stands in for the application that made these data keys.
        made = kms.generate_data_key(KeyId=ALIAS, KeySpec="AES_256")
        path = os.path.join(estate.data_key_dir, "app-{0:03d}.key".format(number))
        with open(path, "wb") as handle:
            handle.write(base64.b64encode(made["CiphertextBlob"]))
        estate.data_key_plaintexts[path] = _sha256(made["Plaintext"])

    if objects:
        estate.bucket = bucket
        _seed_bucket(endpoint.client("s3"), estate, key["Arn"], objects, versions)
    if ebs:
        _seed_ebs(endpoint.client("ec2"), estate, key["Arn"])
    return estate


def _seed_bucket(s3, estate, key_arn, objects, versions):
    s3.create_bucket(Bucket=estate.bucket)
    s3.put_bucket_versioning(Bucket=estate.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=estate.bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]})
    for number in range(objects):
        name = "records/{0:04d}.json".format(number)
        for version in range(versions):
            body = '{{"record": {0}, "version": {1}}}'.format(number, version).encode()
            answer = s3.put_object(Bucket=estate.bucket, Key=name, Body=body, ServerSideEncryption="aws:kms",
                                   SSEKMSKeyId=key_arn, Metadata={"origin": "demo"})
            estate.object_versions[(name, answer["VersionId"])] = _sha256(body)


def _seed_ebs(ec2, estate, key_arn):
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    tags = [{"ResourceType": "volume", "Tags": [{"Key": "app", "Value": "demo"}]}]
    unattached = ec2.create_volume(AvailabilityZone=zone, Size=8, VolumeType="gp3", Iops=3000, Throughput=125,
                                   Encrypted=True, KmsKeyId=key_arn, TagSpecifications=tags)["VolumeId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 Placement={"AvailabilityZone": zone})["Instances"][0]["InstanceId"]
    attached = ec2.create_volume(AvailabilityZone=zone, Size=10, VolumeType="gp3", Encrypted=True, KmsKeyId=key_arn,
                                 TagSpecifications=tags)["VolumeId"]
    ec2.attach_volume(VolumeId=attached, InstanceId=instance, Device="/dev/sdf")
    snapshot = ec2.create_snapshot(VolumeId=unattached, Description="demo backup")["SnapshotId"]
    estate.unattached_volume_id = unattached
    estate.attached_volume_id = attached
    estate.instance_id = instance
    estate.volume_ids = [unattached, attached]
    estate.snapshot_ids = [snapshot]


def prove(endpoint, estate, destination_arn):
    """Problems found (empty when everything is under the destination key with unchanged content)."""
    problems = []
    kms = endpoint.client("kms")
    for path, fingerprint in sorted(estate.data_key_plaintexts.items()):
        with open(path, "rb") as handle:
            answer = kms.decrypt(CiphertextBlob=base64.b64decode(handle.read()))
        if answer["KeyId"] != destination_arn:
            problems.append("{0} is under {1}".format(path, answer["KeyId"]))
        if _sha256(answer["Plaintext"]) != fingerprint:
            problems.append("{0} holds a different data key".format(path))
    if estate.bucket:
        problems.extend(_prove_bucket(endpoint.client("s3"), estate, destination_arn))
    if estate.volume_ids or estate.snapshot_ids:
        problems.extend(_prove_ebs(endpoint.client("ec2"), estate, destination_arn))
    return problems


def _prove_bucket(s3, estate, destination_arn):
    problems = []
    listed = s3.list_object_versions(Bucket=estate.bucket).get("Versions", [])
    if len(listed) != len(estate.object_versions):
        problems.append("{0} versions in the bucket, {1} seeded".format(len(listed), len(estate.object_versions)))
    for (name, version), fingerprint in sorted(estate.object_versions.items()):
        answer = s3.get_object(Bucket=estate.bucket, Key=name, VersionId=version)
        if answer.get("SSEKMSKeyId") != destination_arn:
            problems.append("s3://{0}/{1}?versionId={2} is under {3}".format(
                estate.bucket, name, version, answer.get("SSEKMSKeyId")))
        if _sha256(answer["Body"].read()) != fingerprint:
            problems.append("s3://{0}/{1}?versionId={2} changed content".format(estate.bucket, name, version))
    return problems


def _prove_ebs(ec2, estate, destination_arn):
    problems = []
    attached = ec2.describe_instances(InstanceIds=[estate.instance_id])["Reservations"][0]["Instances"][0]
    mapping = dict((device["DeviceName"], device["Ebs"]["VolumeId"]) for device in attached["BlockDeviceMappings"])
    serving = mapping.get("/dev/sdf")
    if serving is None:
        problems.append("instance {0} has no volume at /dev/sdf".format(estate.instance_id))
    else:
        volume = ec2.describe_volumes(VolumeIds=[serving])["Volumes"][0]
        if volume.get("KmsKeyId") != destination_arn:
            problems.append("volume {0} at /dev/sdf is under {1}".format(serving, volume.get("KmsKeyId")))
    replacements = ec2.describe_volumes(Filters=[{"Name": "tag:app", "Values": ["demo"]}])["Volumes"]
    if not any(volume.get("KmsKeyId") == destination_arn and volume["VolumeId"] != serving and not volume["Attachments"]
               for volume in replacements):
        problems.append("no replacement of the unattached volume {0} under the new key".format(estate.unattached_volume_id))
    snapshots = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    if not any(snapshot.get("KmsKeyId") == destination_arn and snapshot.get("Description") == "demo backup"
               for snapshot in snapshots):
        problems.append("no copy of snapshot {0} under the new key".format(estate.snapshot_ids[0]))
    return problems
