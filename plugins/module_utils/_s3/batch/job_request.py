# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The CreateJob request of one re-key job, byte-stable across runs, and the names that find it again.

A job is identified by what it does: account, bucket, prefix, source key,
destination key and the manifest it uses. Those make the job's `base` (a
hash), its Description (`kmsrotate.aws s3_kms_recopy <base> attempt <n>`,
which ListJobs returns, so a rerun finds the job) and its client request
token (`<base>-<n>`). Nothing in the request depends on the time or on the
run, since AWS refuses a repeated token whose request differs. `attempt`
counts the jobs started for the same base: a job that ended Cancelled or
Failed is replaced by attempt n+1 (docs/s3_batch.md says when).
"""

import hashlib
import json

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

OPERATION = "S3UpdateObjectEncryption"
REPORT_FORMAT = "Report_CSV_20180820"
GENERATED_MANIFEST_FORMAT = "S3InventoryReport_CSV_20211130"
# The only manifest this collection asks for: S3 lists, by itself, what is under the source key.
GENERATOR_MANIFEST = "generator"
RECOPY_DESCRIPTION = "kmsrotate.aws s3_kms_recopy"
RESIDUE_DESCRIPTION = "kmsrotate.aws residue"
# Characters of the hash kept: the token is at most 64 characters, attempt suffix included.
_BASE_LENGTH = 48


def job_base(account, bucket, prefix, source_arn, destination_arn, manifest=GENERATOR_MANIFEST):
    """The hash naming the job that moves bucket/prefix from source_arn to destination_arn."""
    identity = json.dumps([account, bucket, prefix, source_arn, destination_arn, manifest], separators=(",", ":"))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:_BASE_LENGTH]


def description(kind, base, attempt):
    return "{0} {1} attempt {2}".format(kind, base, attempt)


def attempt_of(kind, base, text):
    """The attempt number a job Description names for this base, or None when it is another job's."""
    head = "{0} {1} attempt ".format(kind, base)
    if not (text or "").startswith(head) or not text[len(head):].isdigit():
        return None
    return int(text[len(head):])


def client_request_token(base, attempt):
    return "{0}-{1}".format(base, attempt)


def _bucket_arn(partition, bucket):
    return "arn:{0}:s3:::{1}".format(partition, bucket)


def manifest_generator(partition, bucket, prefix, source_arn, report_bucket, report_prefix):
    """S3JobManifestGenerator: the versions S3 finds under source_arn (and prefix), its manifest saved."""
    key_filter = {"MatchAnyObjectEncryption": [{"SSEKMS": {"KmsKeyArn": source_arn}}]}
    if prefix:
        key_filter["KeyNameConstraint"] = {"MatchAnyPrefix": [prefix]}
    return {"S3JobManifestGenerator": {
        "SourceBucket": _bucket_arn(partition, bucket),
        "EnableManifestOutput": True,
        "ManifestOutputLocation": {"Bucket": _bucket_arn(partition, report_bucket),
                                   "ManifestPrefix": report_prefix,
                                   "ManifestFormat": GENERATED_MANIFEST_FORMAT},
        "Filter": key_filter,
    }}


def update_operation(key_arn, bucket_key_enabled):
    """S3UpdateObjectEncryption to key_arn; BucketKeyEnabled only when asked (omitted, S3's default applies)."""
    sse_kms = {"KMSKeyArn": key_arn}
    if bucket_key_enabled is not None:
        sse_kms["BucketKeyEnabled"] = bool(bucket_key_enabled)
    return {OPERATION: {"ObjectEncryption": {"SSEKMS": sse_kms}}}


def create_job_request(kind, base, attempt, account, target, options, confirmation_required=False):
    """The CreateJob request.

    target: dict bucket, prefix, source_arn, operation_key_arn (the key the operation names), bucket_key_enabled.
    options: dict role_arn, report_bucket, report_prefix, priority.
    """
    partition = parse_aws_arn(target["source_arn"])["partition"]
    return {
        "AccountId": account,
        "ConfirmationRequired": confirmation_required,
        "Operation": update_operation(target["operation_key_arn"], target.get("bucket_key_enabled")),
        "Report": {"Bucket": _bucket_arn(partition, options["report_bucket"]), "Format": REPORT_FORMAT,
                   "Enabled": True, "Prefix": options["report_prefix"], "ReportScope": "FailedTasksOnly"},
        "ClientRequestToken": client_request_token(base, attempt),
        "Priority": options["priority"],
        "RoleArn": options["role_arn"],
        "Description": description(kind, base, attempt),
        "ManifestGenerator": manifest_generator(partition, target["bucket"], target["prefix"], target["source_arn"],
                                                options["report_bucket"], options["report_prefix"]),
    }


def report_location(report_bucket, report_prefix, job_id):
    """Where S3 writes a job's completion report: <prefix>/job-<id>/ (manifest.json and results/)."""
    return "s3://{0}/{1}".format(report_bucket, report_key(report_prefix, job_id, ""))


def report_key(report_prefix, job_id, name):
    return "{0}job-{1}/{2}".format(report_prefix.rstrip("/") + "/" if report_prefix else "", job_id, name)
