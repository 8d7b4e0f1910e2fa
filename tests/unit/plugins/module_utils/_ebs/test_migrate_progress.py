"""ebs_kms_migrate's progress file: the volumes and snapshots to move, and how many moved, at the end of a run."""

import json

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.migrate import EbsMigration, MigrationSpec

AZ = "us-east-1a"


def _run(ec2, kms, **options):
    limit = AdaptiveLimit(4)
    by_service = {"ec2": ec2, "kms": kms}
    clients = Clients(lambda service, region, config: by_service[service], limit, region="us-east-1")
    return EbsMigration(clients, limit).run(MigrationSpec(destination_key_id="alias/new", **options)).values


def test_progress_file_counts_the_volumes_and_snapshots_moved(estate, tmp_path):
    ec2, kms, source, _destination = estate
    volume_ids = [ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
                  for _number in range(2)]
    snapshot_id = ec2.create_snapshot(VolumeId=volume_ids[0])["SnapshotId"]
    unencrypted = ec2.create_volume(AvailabilityZone=AZ, Size=1)["VolumeId"]
    path = tmp_path / "ebs.progress.json"
    result = _run(ec2, kms, volume_ids=volume_ids + [unencrypted], snapshot_ids=[snapshot_id],
                  progress_file=str(path))
    assert result["counts"]["volumes"]["migrated"] == 2 and result["counts"]["snapshots"]["rekeyed"] == 1
    progress = json.loads(path.read_text())
    assert progress["finished"] is True and progress["failed"] is False
    assert (progress["done"], progress["total"], progress["eta_seconds"]) == (3, 3, 0)
    assert progress["counts"] == {"scanned": 4, "to_move": 3, "rekeyed": 3, "failed": 0, "blocking": 0}
    assert progress["target"] == "EBS volumes and snapshots"


def test_without_progress_file_nothing_is_written(estate, tmp_path, monkeypatch):
    ec2, kms, source, _destination = estate
    volume_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    monkeypatch.chdir(tmp_path)
    _run(ec2, kms, volume_ids=[volume_id])
    assert list(tmp_path.iterdir()) == []
