"""The proof suite's estate: everything that depends on one KMS key, at a chosen size.

One source key with an alias; data-key files; versioned buckets whose
objects carry content types, user metadata, tags, storage classes, canned
ACLs, noncurrent versions and a delete marker; unattached volumes, running
instances with data volumes attached (DeleteOnTermination set on some), and
snapshots. Seeding talks to the endpoint through boto3, standing in for the
applications that made the data.

SIZES holds the two sizes: `small` (make test) and `large` (make proof).
"""

import base64
import os

ALIAS = "alias/proof-app"
USER_TAG = {"Key": "app", "Value": "proof"}

SIZES = {
    # Tiny on purpose: every kill point is a rerun of the role, and make test runs on 2 cores.
    # instances: the number of data volumes attached to each running instance.
    # concurrency: per phase, None for the module's default. One worker makes the Nth request of an
    # action the same item on every run, so a kill point stays where the kill-point list says it is.
    "small": {"blobs": 3, "buckets": 1, "objects": 3, "versions": 2, "unattached": 1, "instances": [1],
              "snapshots": 1, "concurrency": {"data_keys": 1, "s3": 1, "ebs": 1}},
    "large": {"blobs": 40, "buckets": 2, "objects": 60, "versions": 3, "unattached": 3, "instances": [1, 2],
              "snapshots": 3, "concurrency": {"data_keys": None, "s3": None, "ebs": 1}},
}

# Object attributes cycled through the keys of a bucket, so each kind is present at every size.
_OBJECT_STYLES = (
    {"ContentType": "application/json", "Metadata": {"origin": "proof"}, "Tagging": "class=record"},
    {"ContentType": "text/plain", "StorageClass": "STANDARD_IA", "ACL": "public-read"},
    {"ContentType": "application/octet-stream", "Metadata": {"origin": "proof", "kind": "blob"},
     "ACL": "authenticated-read", "Tagging": "class=archive&owner=proof"},
)


class Estate:
    """Ids of what was seeded; the ledger records its content."""

    def __init__(self, workdir, size):
        self.size = size
        self.sizes = SIZES[size]
        self.source_key_arn = None
        self.data_key_dir = os.path.join(str(workdir), "data-keys")
        self.data_key_paths = []
        self.buckets = []
        self.unattached_volume_ids = []
        self.attached_volume_ids = []
        self.instance_ids = []
        self.snapshot_ids = []

    @property
    def volume_ids(self):
        return self.unattached_volume_ids + self.attached_volume_ids

    def host_vars(self, report_dir, s3_method=None):
        """The inventory host variables of the rotation unit for this estate (s3_method: s3_kms_recopy's method)."""
        def options(phase):
            concurrency = self.sizes["concurrency"][phase]
            return {"concurrency": concurrency} if concurrency else {}

        bucket_options = dict(options("s3"), method=s3_method) if s3_method else options("s3")
        return {
            "kms_rotation_source_key": self.source_key_arn,
            "kms_rotation_data_key_paths": [os.path.join(self.data_key_dir, "*.key")],
            "kms_rotation_data_key_options": options("data_keys"),
            "kms_rotation_s3_buckets": [dict(bucket_options, bucket=bucket) for bucket in self.buckets],
            "kms_rotation_ebs_volume_ids": list(self.volume_ids),
            "kms_rotation_ebs_snapshot_ids": list(self.snapshot_ids),
            # moto finishes every step at once: a wait that lasts is a stuck run, and must end as a failure.
            "kms_rotation_ebs_options": dict(options("ebs"), wait_timeout=120),
            "kms_rotation_allow_stop": True,
            "kms_rotation_report_dir": str(report_dir),
            "kms_rotation_poll_interval": 1,
        }


def seed(endpoint, workdir, size):
    estate = Estate(workdir, size)
    kms = endpoint.client("kms")
    key = kms.create_key(Description="proof application key (source)")["KeyMetadata"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key["KeyId"])
    estate.source_key_arn = key["Arn"]
    _seed_data_keys(kms, estate)
    s3 = endpoint.client("s3")
    for number in range(estate.sizes["buckets"]):
        estate.buckets.append(_seed_bucket(s3, estate, "proof-data-{0}".format(number)))
    _seed_ebs(endpoint.client("ec2"), estate)
    return estate


def _seed_data_keys(kms, estate):
    os.makedirs(estate.data_key_dir, exist_ok=True)
    for number in range(estate.sizes["blobs"]):
        blob = kms.generate_data_key(KeyId=ALIAS, KeySpec="AES_256")["CiphertextBlob"]
        path = os.path.join(estate.data_key_dir, "app-{0:03d}.key".format(number))
        with open(path, "wb") as handle:
            handle.write(base64.b64encode(blob))
        estate.data_key_paths.append(path)


def object_body(bucket, key, version):
    """A body no other version has, so a swapped or stale version cannot match the ledger."""
    return "{0}/{1} version {2}\n".format(bucket, key, version).encode() * (1 + version)


def _seed_bucket(s3, estate, bucket):
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": estate.source_key_arn}}]})
    for number in range(estate.sizes["objects"]):
        key = "records/{0:04d}.dat".format(number)
        style = _OBJECT_STYLES[number % len(_OBJECT_STYLES)]
        for version in range(estate.sizes["versions"]):
            s3.put_object(Bucket=bucket, Key=key, Body=object_body(bucket, key, version), ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=estate.source_key_arn, **style)
    # The last object is deleted: its versions are all noncurrent, behind a delete marker.
    s3.delete_object(Bucket=bucket, Key=key)
    return bucket


def _seed_ebs(ec2, estate):
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    key_arn = estate.source_key_arn

    def volume(size, **extra):
        tags = [{"ResourceType": "volume", "Tags": [USER_TAG, {"Key": "Name", "Value": "proof-{0}".format(size)}]}]
        return ec2.create_volume(AvailabilityZone=zone, Size=size, Encrypted=True, KmsKeyId=key_arn,
                                 TagSpecifications=tags, **extra)["VolumeId"]

    for number in range(estate.sizes["unattached"]):
        estate.unattached_volume_ids.append(volume(8 + number, VolumeType="gp3", Iops=3000 + 100 * number,
                                                   Throughput=125 + number))
    for number, data_volumes in enumerate(estate.sizes["instances"]):
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                     Placement={"AvailabilityZone": zone})["Instances"][0]["InstanceId"]
        estate.instance_ids.append(instance)
        for device_number in range(data_volumes):
            device = "/dev/sd{0}".format("fghij"[device_number])
            volume_id = volume(20 + 10 * number + device_number, VolumeType="io1" if device_number else "gp3",
                               Iops=4000 if device_number else 3000)
            ec2.attach_volume(VolumeId=volume_id, InstanceId=instance, Device=device)
            # The first data volume of each instance goes with it: the swap must keep that.
            if device_number == 0:
                ec2.modify_instance_attribute(InstanceId=instance, BlockDeviceMappings=[
                    {"DeviceName": device, "Ebs": {"DeleteOnTermination": True}}])
            estate.attached_volume_ids.append(volume_id)
    sources = estate.unattached_volume_ids + estate.attached_volume_ids
    for number in range(estate.sizes["snapshots"]):
        source = sources[number % len(sources)]
        estate.snapshot_ids.append(ec2.create_snapshot(
            VolumeId=source, Description="proof backup {0}".format(number),
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [USER_TAG]}])["SnapshotId"])
