"""EC2 fidelity: a volume made without a snapshot reports SnapshotId "" as AWS does."""


def test_volume_without_snapshot_reports_empty_snapshot_id(aws):
    ec2 = aws.client("ec2")
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    volume_id = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["SnapshotId"] == ""
