"""Benchmark: ebs_kms_migrate's cost in API calls per unit of work, and its wall time at scale.

    python tests/benchmarks/bench_ebs_kms_migrate.py [--volumes 40] [--instances 10] [--snapshots 20]
                                                      [--concurrency 8] [--latency-ms 0] [--quick]

First, one unit of each kind on its own (an unattached volume; an instance
with a root and a data volume; a snapshot), each through one ansible-playbook
run, printing the requests the endpoint served per API action: the figures
the module's notes quote. Then everything at once, printing wall time and
requests per second. The local server caps the request rate, and its waits
pass at the first poll, so on AWS wall time is set by snapshot creation.
"""

import argparse
import tempfile

from _common import LocalEndpoint, Stopwatch, playbook_runner, print_table

AZ = "us-east-1a"


def _setup(endpoint, volumes, instances, snapshots):
    ec2 = endpoint.client("ec2")
    kms = endpoint.client("kms")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/bench-new", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    tags = [{"ResourceType": "volume", "Tags": [{"Key": "bench", "Value": "yes"}]}]
    loose = [ec2.create_volume(AvailabilityZone=AZ, Size=10, VolumeType="gp3", Encrypted=True, KmsKeyId=source,
                               TagSpecifications=tags)["VolumeId"] for _index in range(volumes)]
    for _index in range(instances):
        # t3.micro has no instance store: the module stops it without allow_instance_store_loss.
        instance_id = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": AZ}, InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "bench", "Value": "yes"}]}],
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {
                "VolumeSize": 8, "Encrypted": True, "KmsKeyId": source, "DeleteOnTermination": True}}],
        )["Instances"][0]["InstanceId"]
        data_id = ec2.create_volume(AvailabilityZone=AZ, Size=10, VolumeType="gp3", Encrypted=True, KmsKeyId=source,
                                    TagSpecifications=tags)["VolumeId"]
        ec2.attach_volume(VolumeId=data_id, InstanceId=instance_id, Device="/dev/sdf")
    for index in range(snapshots):
        ec2.create_snapshot(VolumeId=loose[index % len(loose)] if loose else data_id, TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "bench", "Value": "yes"}]}])


def _run(endpoint, workdir, concurrency):
    endpoint.clear_stats()
    runner = playbook_runner(endpoint, workdir)
    task = {"name": "migrate", "kmsrotate.aws.ebs_kms_migrate": {
        "destination_key_id": "alias/bench-new", "filters": {"tag:bench": "yes"},
        "snapshot_filters": {"tag:bench": "yes"}, "allow_stop": True, "concurrency": concurrency}}
    with Stopwatch() as watch:
        run = runner.run(tasks=[task])
    if run.rc != 0:
        raise SystemExit(repr(run))
    stats = dict((name.split(":", 1)[1], count) for name, count in endpoint.stats().items() if name.startswith("ec2:"))
    return run.result("migrate"), stats, watch.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=40)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--snapshots", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5 volumes, 2 instances, 3 snapshots")
    args = parser.parse_args()
    if args.quick:
        args.volumes, args.instances, args.snapshots = 5, 2, 3

    with LocalEndpoint() as endpoint, tempfile.TemporaryDirectory() as workdir:
        per_unit = {}
        for label, sizes in (("unattached volume", (1, 0, 0)), ("instance, 2 volumes", (0, 1, 0)),
                             ("snapshot", (1, 0, 1))):
            endpoint.reset()
            _setup(endpoint, *sizes)
            if label == "snapshot":
                # Only the snapshot in scope: its volume is already under the new key for this count.
                ec2 = endpoint.client("ec2")
                volume_id = ec2.describe_volumes()["Volumes"][0]["VolumeId"]
                ec2.delete_tags(Resources=[volume_id], Tags=[{"Key": "bench"}])
            _result, stats, _seconds = _run(endpoint, workdir, args.concurrency)
            per_unit[label] = stats
        actions = sorted(set(action for stats in per_unit.values() for action in stats))
        rows = [dict({"action": action}, **dict((label, stats.get(action, 0)) for label, stats in per_unit.items()))
                for action in actions]
        rows.append(dict({"action": "total"}, **dict((label, sum(stats.values())) for label, stats in per_unit.items())))
        print_table("EC2 requests per unit of work (one run each, planning included)", rows,
                    ["action"] + list(per_unit))

        endpoint.reset()
        if args.latency_ms:
            endpoint.set_faults([{"kind": "latency", "service": "ec2", "ms": args.latency_ms}])
        _setup(endpoint, args.volumes, args.instances, args.snapshots)
        result, stats, seconds = _run(endpoint, workdir, args.concurrency)
        total = sum(stats.values())
        print_table("All at once", [{
            "volumes": sum(result["counts"]["volumes"].values()), "migrated": result["counts"]["volumes"]["migrated"],
            "snapshots": result["counts"]["snapshots"]["rekeyed"], "instances stopped": len(result["instances_stopped"]),
            "seconds": round(seconds, 1), "ec2 requests": total, "requests/s": round(total / seconds, 1),
            "concurrency": args.concurrency, "latency ms": args.latency_ms}],
            ["volumes", "migrated", "snapshots", "instances stopped", "seconds", "ec2 requests", "requests/s",
             "concurrency", "latency ms"])


if __name__ == "__main__":
    main()
