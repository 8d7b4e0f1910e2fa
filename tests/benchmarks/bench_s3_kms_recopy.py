"""Benchmark: s3_kms_recopy against the AWS CLI, s5cmd and a bare boto3 pool.

    python tests/benchmarks/bench_s3_kms_recopy.py [--objects 10000] [--latency-ms 20,100]
                                                    [--concurrency 32] [--rss-objects 10000,100000] [--quick]

For each added latency, on one local endpoint, each contender re-keys the same
freshly seeded bucket (N objects, SSE-KMS under the old key, STANDARD_IA,
ACLs disabled by BucketOwnerEnforced, AWS's default for new buckets):
- module update / copy: one ansible-playbook task (wall time, start-up included;
  the task's own duration is shown too);
- module copy with ACLs enabled (ObjectWriter ownership, one object in ten
  with a public-read grant): the copy path's ACL requests, GetObjectAcl per
  object and PutObjectAcl per object with grants;
- aws s3 cp --recursive s3://b/ s3://b/ --sse aws:kms --sse-kms-key-id NEW;
- s5cmd cp --sse aws:kms --sse-kms-key-id NEW 's3://b/*' s3://b/;
- ceilings: a bare boto3 pool of the same size issuing the module's request
  mix (HeadObject + UpdateObjectEncryption, HeadObject + CopyObject conditional
  at both ends) with nothing else around it.
Requests per object (in total, and per operation for the module's runs) come
from the endpoint's request counter, peak RSS from
the contender's process tree. Then the module engine's peak RSS (its own
process) is measured with 10k and 100k listed objects (check mode: one
HeadObject per object) to show memory stays flat. Those runs list with
ListObjectsV2 (versions: current): moto 5.2.5's ListObjectVersions keeps about
3 KiB per object in the bucket for every page served, so 100 pages of a
100k-object bucket grow the server past 20 GB. Seeding happens inside the
server process (control route `s3_seed`), since a local moto server serves
only ~300 requests/s. Ratios in one run matter, not absolute rates.
"""

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from _common import REPO, LocalEndpoint, Stopwatch, cli_env, playbook_runner, print_table

BUCKET = "bench-bucket"
CLASS = "STANDARD_IA"
# In the ACL-enabled copy run, every this many objects has a grant beyond its owner's.
PUBLIC_READ_EVERY = 10
# Runs `argv` and prints the peak RSS (MiB) of its process tree: the measurer for every contender.
_RSS_WRAPPER = ("import resource, subprocess, sys\n"
                "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode\n"
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)\n"
                "sys.exit(code)\n")
# The module's engine in a process of its own, for its peak RSS without Ansible's controller around it.
_ENGINE_CHILD = """
import json, resource, sys
sys.path.insert(0, {tests!r})
import conftest  # noqa: F401  (installs the collection loader)
import boto3
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.recopy import BucketRecopy, RecopySpec
url, bucket, destination, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def connect(service, region, config):
    return RetryingBotoClientWrapper(boto3.client(service, endpoint_url=url, region_name=region or "us-east-1",
                                                  aws_access_key_id="testing", aws_secret_access_key="testing",
                                                  config=config), aws_retry)
spec = RecopySpec(bucket=bucket, destination_key_id=destination, method="update", versions="current",
                  concurrency=concurrency)
limit = AdaptiveLimit(spec.concurrency)
result = BucketRecopy(Clients(connect, limit, region="us-east-1"), limit).run(spec, check_mode=True).values
print(json.dumps({{"scanned": result["scanned"], "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}}))
"""


def _measured(command, env):
    """(seconds, peak RSS MiB) of a command's process tree."""
    with Stopwatch() as watch:
        done = subprocess.run([sys.executable, "-c", _RSS_WRAPPER] + command, env=env, capture_output=True,
                              text=True, check=False)
    if done.returncode != 0:
        raise SystemExit("{0} failed:\n{1}".format(" ".join(command[:3]), done.stderr[-3000:]))
    return watch.seconds, float(done.stdout.strip().splitlines()[-1])


def _fresh_bucket(endpoint, objects, latency_ms, acls=False):
    """Reset the endpoint, seed the bucket in-process; returns (source, destination) key ARNs.

    acls: ACLs enabled, one object in PUBLIC_READ_EVERY with a public-read grant; else ACLs disabled.
    """
    endpoint.reset()
    kms = endpoint.client("kms")
    source = kms.create_key(Description="bench source")["KeyMetadata"]["Arn"]
    destination = kms.create_key(Description="bench destination")["KeyMetadata"]["Arn"]
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    # ACLs disabled (BucketOwnerEnforced) is the default for new buckets since 2023: no grants to carry over.
    ownership = "ObjectWriter" if acls else "BucketOwnerEnforced"
    s3.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})
    endpoint.control("s3_seed", {"bucket": BUCKET, "count": objects, "prefix": "data/obj-", "size": 64,
                                 "kms_key_id": source, "storage_class": CLASS,
                                 "public_read_every": PUBLIC_READ_EVERY if acls else None})
    if latency_ms:
        endpoint.set_faults([{"kind": "latency", "ms": latency_ms}])
    endpoint.clear_stats()
    return source, destination


def _s3_requests(endpoint):
    return sum(_s3_operations(endpoint).values())


def _s3_operations(endpoint):
    """S3 requests the endpoint received, per operation."""
    return dict((name[len("s3:"):], count) for name, count in endpoint.stats().items() if name.startswith("s3:"))


def _module(endpoint, workdir, method, destination, concurrency):
    runner = playbook_runner(endpoint, workdir)
    tasks = [{"name": "recopy", "kmsrotate.aws.s3_kms_recopy": {
        "bucket": BUCKET, "destination_key_id": destination, "method": method, "concurrency": concurrency}}]
    playbook = workdir / "recopy-{0}.yml".format(method)
    playbook.write_text(json.dumps(runner.play(tasks)))
    vars_file = workdir / "vars.json"
    vars_file.write_text(json.dumps({"aws_endpoint_url": endpoint.url}))
    env = runner.environment()
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    result_file = workdir / "result-{0}.json".format(method)
    command = ["sh", "-c", '"$0" "$@" > "{0}"'.format(result_file), os.path.join(os.path.dirname(sys.executable),
                                                                                 "ansible-playbook"),
               str(playbook), "-i", "localhost,", "-e", "@{0}".format(vars_file)]
    seconds, rss = _measured(command, env)
    output = result_file.read_text()
    task = json.loads(output[output.find("{"):])["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return seconds, rss, task


def _ceiling(endpoint, destination, concurrency, method):
    """The module's request mix from a bare boto3 pool: (seconds, objects)."""
    s3 = endpoint.client("s3", max_pool_connections=concurrency + 4)
    keys = [entry["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for entry in page.get("Contents", [])]

    def rekey(key):
        head = s3.head_object(Bucket=BUCKET, Key=key)
        if method == "update":
            s3.update_object_encryption(Bucket=BUCKET, Key=key, VersionId=head.get("VersionId", "null"),
                                        ObjectEncryption={"SSEKMS": {"KMSKeyArn": destination}})
        else:
            s3.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": key},
                           CopySourceIfMatch=head["ETag"], IfMatch=head["ETag"],
                           StorageClass=head.get("StorageClass", "STANDARD"), ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=destination, MetadataDirective="COPY")

    with ThreadPoolExecutor(concurrency) as pool, Stopwatch() as watch:
        list(pool.map(rekey, keys))
    return watch.seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _row(name, seconds, objects, requests, rss, note=""):
    return {"contender": name, "seconds": "{0:.1f}".format(seconds), "objects/s": "{0:.0f}".format(objects / seconds),
            "req/object": "{0:.2f}".format(requests / float(objects)), "peak RSS MiB": "{0:.0f}".format(rss),
            "note": note}


def _first_key(endpoint):
    s3 = endpoint.client("s3")
    return s3.list_objects_v2(Bucket=BUCKET, MaxKeys=1)["Contents"][0]["Key"]


def _class_after(endpoint):
    return endpoint.client("s3").head_object(Bucket=BUCKET, Key=_first_key(endpoint)).get("StorageClass", "STANDARD")


def _module_row(endpoint, workdir, objects, latency_ms, concurrency, method, acls, per_operation):
    """Run the module on a fresh bucket: its table row and (wall, task) seconds; its requests go to per_operation."""
    _source, destination = _fresh_bucket(endpoint, objects, latency_ms, acls=acls)
    seconds, rss, task = _module(endpoint, workdir, method, destination, concurrency)
    assert task["rekeyed"] == objects, task.get("msg", task.get("counts"))
    name = "module, method {0}{1}".format(method, ", ACLs enabled" if acls else "")
    operations = _s3_operations(endpoint)
    per_operation.append(dict({"contender": name}, **dict(
        (operation, "{0:.2f}".format(count / float(objects))) for operation, count in operations.items())))
    row = _row(name, seconds, objects, sum(operations.values()), rss,
               "task {0:.1f}s; class {1}".format(task["duration_seconds"], _class_after(endpoint)))
    return row, (seconds, task["duration_seconds"])


def run_latency(endpoint, workdir, objects, latency_ms, concurrency):
    rows = []
    figures = {}
    per_operation = []
    for method in ("update", "copy"):
        row, figures["module_" + method] = _module_row(endpoint, workdir, objects, latency_ms, concurrency, method,
                                                       False, per_operation)
        rows.append(row)

        _source, destination = _fresh_bucket(endpoint, objects, latency_ms)
        ceiling_seconds, ceiling_rss = _ceiling(endpoint, destination, concurrency, method)
        figures["ceiling_" + method] = ceiling_seconds
        rows.append(_row("ceiling: boto3 pool, {0} mix".format(method), ceiling_seconds, objects,
                         _s3_requests(endpoint), ceiling_rss, "in the benchmark's own process"))

    _source, destination = _fresh_bucket(endpoint, objects, latency_ms)
    env = cli_env(endpoint)
    seconds, rss = _measured(["aws", "s3", "cp", "--recursive", "--only-show-errors", "s3://{0}/".format(BUCKET),
                              "s3://{0}/".format(BUCKET), "--sse", "aws:kms", "--sse-kms-key-id", destination], env)
    figures["cli"] = seconds
    rows.append(_row("aws s3 cp --recursive (AWS CLI)", seconds, objects, _s3_requests(endpoint), rss,
                     "class {0}".format(_class_after(endpoint))))

    _source, destination = _fresh_bucket(endpoint, objects, latency_ms)
    try:
        seconds, rss = _measured(["s5cmd", "--endpoint-url", endpoint.url, "--numworkers", str(concurrency), "cp",
                                  "--sse", "aws:kms", "--sse-kms-key-id", destination, "s3://{0}/*".format(BUCKET),
                                  "s3://{0}/".format(BUCKET)], env)
        rows.append(_row("s5cmd cp", seconds, objects, _s3_requests(endpoint), rss,
                         "class {0}".format(_class_after(endpoint))))
    except SystemExit as exc:
        rows.append({"contender": "s5cmd cp", "note": "failed: {0}".format(str(exc).splitlines()[-1][:80])})

    row, _seconds = _module_row(endpoint, workdir, objects, latency_ms, concurrency, "copy", True, per_operation)
    rows.append(row)

    print_table("Re-key {0} objects, concurrency {1}, added latency {2} ms".format(objects, concurrency, latency_ms),
                rows, ["contender", "seconds", "objects/s", "req/object", "peak RSS MiB", "note"])
    operations = sorted(set(name for entry in per_operation for name in entry) - {"contender"})
    print_table("The module's S3 requests per object, by operation (ACLs enabled: 1 object in {0} with a grant)".format(
        PUBLIC_READ_EVERY), per_operation, ["contender"] + operations)
    for method in ("update", "copy"):
        wall, task = figures["module_" + method]
        ceiling = figures["ceiling_" + method]
        print("module {0}: {1:.2f}x the ceiling's time (task alone {2:.2f}x; target <= 1.25x); "
              "{3:.1f}x faster than the AWS CLI".format(method, wall / ceiling, task / ceiling, figures["cli"] / wall))


def run_rss(endpoint, sizes, concurrency):
    rows = []
    for size in sizes:
        _source, destination = _fresh_bucket(endpoint, size, 0)
        command = [sys.executable, "-c", _ENGINE_CHILD.format(tests=str(REPO / "tests")), endpoint.url, BUCKET,
                   destination, str(concurrency)]
        with Stopwatch() as watch:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit("engine run failed:\n" + done.stderr[-3000:])
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"listed objects": answer["scanned"], "engine peak RSS MiB": "{0:.1f}".format(answer["rss_mb"]),
                     "seconds": "{0:.0f}".format(watch.seconds)})
    print_table("Engine peak RSS by listed objects (check mode, versions current; target: < 20 MiB growth)", rows,
                ["listed objects", "engine peak RSS MiB", "seconds"])
    if len(rows) > 1:
        print("growth {0} -> {1} objects: {2:.1f} MiB".format(
            rows[0]["listed objects"], rows[-1]["listed objects"],
            float(rows[-1]["engine peak RSS MiB"]) - float(rows[0]["engine peak RSS MiB"])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--latency-ms", default="20,100", help="comma-separated added latencies, one run each")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rss-objects", default="10000,100000", help="listed-object counts for the RSS runs ('' skips)")
    parser.add_argument("--quick", action="store_true", help="1,000 objects at 20 ms; RSS at 1,000 and 5,000")
    args = parser.parse_args()
    if args.quick:
        args.objects, args.latency_ms, args.rss_objects = 1000, "20", "1000,5000"

    with LocalEndpoint() as endpoint, tempfile.TemporaryDirectory() as workdir:
        for latency in [int(value) for value in args.latency_ms.split(",") if value]:
            run_latency(endpoint, pathlib.Path(workdir), args.objects, latency, args.concurrency)
        sizes = [int(value) for value in args.rss_objects.split(",") if value]
        if sizes:
            run_rss(endpoint, sizes, args.concurrency)


if __name__ == "__main__":
    main()
