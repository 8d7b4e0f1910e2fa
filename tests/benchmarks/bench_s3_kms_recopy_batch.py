"""Benchmark: s3_kms_recopy `method: batch` beside `method: update`, on one local endpoint.

    python tests/benchmarks/bench_s3_kms_recopy_batch.py [--objects 100000] [--concurrency 32] [--skip-update]

Each method re-keys the same freshly seeded bucket (N objects under the old
key, seeded in the server process). Printed per method: wall time of the
ansible-playbook run (start-up included) and the task's own duration, the
requests the collection itself sent (the module result's `requests`, every
attempt counted: for batch a constant, whatever N), the HTTP requests the
endpoint served in all, every service (a job's tasks run inside the server,
as on AWS, so they are not among them), and the peak RSS of the controller's process tree. No assertion on time: ratios in
one run matter, not absolute rates (see bench_s3_kms_recopy.py).
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile

from _common import LocalEndpoint, playbook_runner, print_table
from bench_s3_kms_recopy import BUCKET, _fresh_bucket, _measured

REPORTS = "bench-reports"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "batchoperations.s3.amazonaws.com"}}]}


def _batch_setup(endpoint):
    """The report bucket and the role a job needs (after _fresh_bucket's reset)."""
    endpoint.client("s3").create_bucket(Bucket=REPORTS)
    return endpoint.client("iam").create_role(RoleName="bench-batch",
                                              AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


def _run_module(endpoint, workdir, name, args):
    """(wall seconds, peak RSS MiB, task result) of one ansible-playbook run of the module."""
    runner = playbook_runner(endpoint, workdir)
    playbook = workdir / "recopy-{0}.yml".format(name)
    playbook.write_text(json.dumps(runner.play([{"name": "recopy", "kmsrotate.aws.s3_kms_recopy": args}])))
    vars_file = workdir / "vars.json"
    vars_file.write_text(json.dumps({"aws_endpoint_url": endpoint.url}))
    result_file = workdir / "result-{0}.json".format(name)
    command = ["sh", "-c", '"$0" "$@" > "{0}"'.format(result_file),
               os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               str(playbook), "-i", "localhost,", "-e", "@{0}".format(vars_file)]
    seconds, rss = _measured(command, runner.environment())
    output = result_file.read_text()
    task = json.loads(output[output.find("{"):])["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return seconds, rss, task


def _row(name, objects, seconds, rss, task, served):
    sent = sum(task["requests"].values())
    return {"method": name, "objects": objects, "wall s": "{0:.1f}".format(seconds),
            "task s": "{0:.1f}".format(task["duration_seconds"]), "collection requests": sent,
            "per object": "{0:.4f}".format(sent / float(objects)), "endpoint requests": served,
            "peak RSS MiB": "{0:.0f}".format(rss), "rekeyed": task["rekeyed"],
            "sent": " ".join("{0}={1}".format(operation, count) for operation, count in sorted(task["requests"].items()))}


def run(objects, concurrency, skip_update):
    rows = []
    with LocalEndpoint() as endpoint, tempfile.TemporaryDirectory() as workdir:
        workdir = pathlib.Path(workdir)
        source, destination = _fresh_bucket(endpoint, objects, 0)
        role = _batch_setup(endpoint)
        endpoint.clear_stats()
        seconds, rss, task = _run_module(endpoint, workdir, "batch", {
            "bucket": BUCKET, "destination_key_id": destination, "source_key_ids": [source], "method": "batch",
            "batch_role_arn": role, "batch_report_bucket": REPORTS, "batch_poll_interval": 1})
        assert task["rekeyed"] == objects, task.get("msg", task.get("counts"))
        rows.append(_row("batch", objects, seconds, rss, task, sum(endpoint.stats().values())))
        if not skip_update:
            source, destination = _fresh_bucket(endpoint, objects, 0)
            seconds, rss, task = _run_module(endpoint, workdir, "update", {
                "bucket": BUCKET, "destination_key_id": destination, "source_key_ids": [source], "method": "update",
                "concurrency": concurrency})
            assert task["rekeyed"] == objects, task.get("msg", task.get("counts"))
            rows.append(_row("update", objects, seconds, rss, task, sum(endpoint.stats().values())))
    print_table("Re-key {0} objects: method batch beside method update".format(objects), rows,
                ["method", "objects", "wall s", "task s", "collection requests", "per object", "endpoint requests",
                 "peak RSS MiB", "rekeyed"])
    for row in rows:
        print("{0}: {1}".format(row["method"], row["sent"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skip-update", action="store_true", help="only the batch run (update takes minutes)")
    args = parser.parse_args()
    run(args.objects, args.concurrency, args.skip_update)


if __name__ == "__main__":
    main()
