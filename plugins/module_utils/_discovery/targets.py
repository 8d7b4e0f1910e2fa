# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rotation's targets as the retirement gate reads them, and its own look at every version of each target bucket.

A target is a resource a phase of the rotation moves, named as dependents
name it. A bucket target may say how its phase was narrowed (`prefix`,
`versions: current`). The gate never inherits that narrowing: it reads
every version of the bucket, and uses the narrowing only to say which of the
versions still under the key this run's phase moves (`planned`, in check
mode) and which it never will (they hold the key, whatever the mode).

A bucket too large to scan is looked at with the residue proof instead
(`prove_bucket`, _s3/batch/residue.py): S3 itself lists what is still under
the key in a job it prepares and never runs. Its count covers current
versions only (AWS does not document that the generator lists noncurrent
ones), so in a bucket whose versioning is or was enabled the noncurrent
versions are still read one by one (at most `limit` of them), or stay
`unknown`: a bucket is never proven clean by a look that may have missed some.
"""

import collections

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, TO_MOVE, UNKNOWN
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import s3

_BUCKET_PREFIX = "s3://"
_VERSIONS = ("all", "current")
_TARGET_FIELDS = frozenset(["resource", "prefix", "versions"])

# A target: its resource name, and for a bucket the narrowing of its phase ("" and "all": none).
Target = collections.namedtuple("Target", ("resource", "prefix", "versions"))

# The classes of a version under the key, against the narrowing of its bucket's phase.
IN_SCOPE = "in_scope"
OUTSIDE_PREFIX = "outside_prefix"
NONCURRENT = "noncurrent"


def _target(value):
    if isinstance(value, str):
        return Target(value, "", "all")
    if not isinstance(value, dict) or not isinstance(value.get("resource"), str) or set(value) - _TARGET_FIELDS:
        raise RotationError("targets entry {0!r} is neither a resource name nor {{resource, prefix, versions}}.".format(
            value), fix="name each target as dependents name it (s3://<bucket>, vol-..., snap-...), or as a dict "
            "with resource and, for a bucket, the prefix and versions its phase was narrowed to.")
    prefix = value.get("prefix") or ""
    versions = value.get("versions") or "all"
    if versions not in _VERSIONS:
        raise RotationError("targets entry {0}: versions is {1!r}; it takes all or current.".format(
            value["resource"], versions), fix="give versions as s3_kms_recopy takes it: all or current.")
    if (prefix or versions != "all") and not value["resource"].startswith(_BUCKET_PREFIX):
        raise RotationError("targets entry {0}: only a bucket (s3://<name>) is narrowed by prefix or versions.".format(
            value["resource"]), fix="leave prefix and versions out of targets that are not buckets.")
    return Target(value["resource"], prefix, versions)


def parse_targets(values):
    """The option `targets` (resource names, or dicts with the narrowing of a bucket's phase) as Targets."""
    return [_target(value) for value in values]


def bucket_name(target):
    """The bucket a target names, or None for a target that is not a bucket."""
    return target.resource[len(_BUCKET_PREFIX):] if target.resource.startswith(_BUCKET_PREFIX) else None


def _narrowing(target):
    parts = []
    if target.prefix:
        parts.append("prefix {0!r}".format(target.prefix))
    if target.versions != "all":
        parts.append("versions: {0}".format(target.versions))
    return ", ".join(parts) or "no narrowing"


def _classifier(target):
    def classify(version, what):
        if what == s3.UNDER_DSSE_KMS:
            return s3.UNDER_DSSE_KMS
        if not version["Key"].startswith(target.prefix):
            return OUTSIDE_PREFIX
        if target.versions == "current" and not version.get("IsLatest"):
            return NONCURRENT
        return IN_SCOPE
    return classify


def _reasons(target):
    narrowing = _narrowing(target)
    outside = ("object version(s) under the source key {0}, which this rotation's S3 phase ({1}) never moves: "
               "widen the bucket's target or move them, then verify again")
    return {
        IN_SCOPE: (TO_MOVE, True, "object version(s) still under the source key, within what this rotation's S3 "
                                  "phase moves ({0})".format(narrowing)),
        OUTSIDE_PREFIX: (TO_MOVE, False, outside.format("outside the prefix " + repr(target.prefix), narrowing)),
        NONCURRENT: (TO_MOVE, False, outside.format("that are noncurrent", narrowing)),
        s3.UNDER_DSSE_KMS: (BLOCKING, False, "DSSE-KMS object version(s) under the source key: this collection "
                                             "cannot move them; copy them with their own procedure"),
        s3.UNREADABLE: (UNKNOWN, False, "object version(s) whose encryption could not be read, so their key is "
                                        "not known"),
    }


def examine_bucket(ctx, target, matcher, limit):
    """The gate's dependents of one target bucket, from every one of its versions (at most `limit` of them)."""
    return _tally_entries(ctx, target, s3.read_versions(ctx, bucket_name(target), matcher, limit, _classifier(target)))


def prove_bucket(ctx, target, matcher, limit, prove, versioning):
    """The gate's dependents of a bucket too large to scan: the residue proof, plus its noncurrent versions read.

    prove() -> a ResidueProof of the whole bucket (the gate never inherits a phase's narrowing), or None when no
    proof may be made (check mode creates no job).
    """
    if versioning == "Unversioned":
        tally = s3.VersionTally()
    else:
        # The versions a residue proof may not have counted.
        tally = s3.read_versions(ctx, bucket_name(target), matcher, limit, _classifier(target),
                                 select=lambda version: not version.get("IsLatest"))
    entries = _tally_entries(ctx, target, tally, what="noncurrent object versions")
    proof = prove()
    if proof is None:
        entries.append(dependent(target.resource, "s3", UNKNOWN, (
            "not examined: the bucket is verified with the residue proof (s3_verify), which creates a Batch "
            "Operations job, and check mode creates none; run without check mode, or with s3_verify: scan"),
            key_arn=ctx.key_arn, count=1, planned=False))
    elif proof.count:
        entries.append(dependent(target.resource, "s3", BLOCKING, (
            "{0} object version(s) still under the source key, counted by S3 in the residue proof job {1} "
            "(its manifest: {2}): move them (s3_kms_recopy), then verify again").format(
                proof.count, proof.job_id, proof.manifest_location), key_arn=ctx.key_arn, count=proof.count,
            planned=False, residue_proof=proof.as_dict()))
    return entries


def _tally_entries(ctx, target, tally, what="the bucket's object versions"):
    entries = []
    for outcome, (kind, planned, reason) in _reasons(target).items():
        count = tally.counts[outcome]
        if not count:
            continue
        if tally.reasons[outcome]:
            reason += ": " + "; ".join(tally.reasons[outcome])
        entries.append(dependent(target.resource, "s3", kind, "{0} {1} (e.g. {2})".format(
            count, reason, ", ".join(tally.examples[outcome])), key_arn=ctx.key_arn, count=count,
            examples=tally.examples[outcome], planned=planned))
    if tally.truncated:
        entries.append(dependent(target.resource, "s3", UNKNOWN, (
            "only {0} of {1} examined (it has more): too large for one run of the gate; "
            "raise retirement_scan_limit, or prove the rest moved another way").format(tally.scanned, what),
            key_arn=ctx.key_arn, count=1, planned=False))
    return entries


def unreadable_bucket(target, key_arn, reason):
    """The entry of a target bucket the gate could not read at all."""
    return dependent(target.resource, "s3", UNKNOWN, "its object versions could not be read: " + reason,
                     key_arn=key_arn, planned=False)
