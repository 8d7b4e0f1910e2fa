# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_key_usage_info: find what depends on a KMS key, service by service, changing nothing.

Each service is one finder in FINDERS (a file of this package per service): it
lists the service's resources with cheap describe calls and yields a Found
record with the key reference the service stores. Matching that reference
against the key (by ARN, through a KeyResolver: services store ids, aliases
or ARNs) and deciding what this collection can move happen once, here.
Adding a service is one finder and one line in FINDERS.

A reference through an alias of the rotation's alias history (an alias that
pointed at the key until the rotation moved it) still depends on the key
unless the service shows its data re-encrypted since (residue.py). For a
rotation, resources kms_service_rekey moved away from the key no longer name
it; what they stored before may still need it, until a date (rekeyed.py).

A service the caller may not read, or that fails, is reported `unknown` with
the reason: an unreadable service is never reported as empty, because that
is how a key gets disabled under a database nobody listed.
"""

import datetime

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.arn import with_region
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, TO_MOVE, UNKNOWN
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import bucket_resource, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import unreadable_reason
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import data_key_files, dynamodb, ebs, efs
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import kms, lambda_functions, logs, rds, s3
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import residue, secretsmanager, sns, sqs, ssm
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.alias_history import DIRECT, AliasHistory
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.alias_history import describe, moment_text, utc_time
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import RegionContext
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.last_usage import LAST_USAGE, last_usage
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.rekeyed import rekeyed_dependents
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.retirement import decide
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.targets import bucket_name, examine_bucket
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.targets import parse_targets, prove_bucket
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.targets import unreadable_bucket
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, is_key_arn
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.gate import GATE_FIELDS, GATE_RANGES, BucketVerify

# A service's status: OK, or UNKNOWN (the dependents' word too: what an unreadable service holds is not known).
OK = "ok"

# (service name in results, finder, whether this collection can move the resource to a new key)
FINDERS = (
    ("s3", s3.bucket_default_encryption, True),
    ("ebs_volumes", ebs.volumes, True),
    ("ebs_snapshots", ebs.snapshots, True),
    ("ebs_default_key", ebs.default_key, True),
    ("ami", ebs.amis, False),
    ("rds_instances", rds.instances, False),
    ("rds_clusters", rds.clusters, False),
    ("efs", efs.file_systems, False),
    ("dynamodb", dynamodb.tables, False),
    ("secretsmanager", secretsmanager.secrets, False),
    ("ssm", ssm.parameters, False),
    ("lambda", lambda_functions.functions, False),
    ("sqs", sqs.queues, False),
    ("sns", sns.topics, False),
    ("logs", logs.log_groups, False),
    ("grants", kms.grants, False),
)
# The names the module's `services` option accepts.
SERVICES = tuple(name for name, _finder, _movable in FINDERS)
# Searched when data_key_paths are given, in the home region; this collection moves them.
DATA_KEY_FILES = "data_key_files"
# What ignore_services accepts: the services, data-key files, and the key's uses since the rotation started.
IGNORABLE = SERVICES + (DATA_KEY_FILES, LAST_USAGE)

# What to do about a resource type, where its service has one way out.
_ADVICE = {
    lambda_functions.FUNCTION_VERSION: (
        " (published versions are immutable and keep the key they were published with): publish a new version "
        "under the new key, move the aliases that name this one to it, then delete this version"),
}
# Resources that dependents name by their id (EBS ids, a file's path) although a finder may know an ARN.
_NAMED_BY_ID = frozenset(["ebs_volume", "ebs_snapshot", "ami", data_key_files.DATA_KEY_FILE])


class UsageSpec(Spec):
    """kms_key_usage_info's options."""

    FIELDS = {
        "key_id": None,
        "regions": [],
        "services": [],
        "data_key_paths": [],
        "scan_objects": False,
        "object_scan_limit": 10000,
        "for_retirement": False,
        "known_dependents": [],
        "targets": [],
        "alias_history": [],
        "rotation_started_at": None,
        "retirement_scan_limit": 1000000,
        "ignore_services": [],
        "concurrency": 10,
    }
    # s3_verify and the batch options: how the gate looks at a target bucket (_s3/batch/gate.py).
    FIELDS.update(GATE_FIELDS)
    RANGES = {"concurrency": (1, None), "object_scan_limit": (1, None), "retirement_scan_limit": (1, None)}
    RANGES.update(GATE_RANGES)

    def rotation_options_given(self):
        """The options that describe a rotation and were given, which without for_retirement would be ignored."""
        given = [name for name in ("known_dependents", "targets", "alias_history", "rotation_started_at")
                 if getattr(self, name)]
        if self.retirement_scan_limit != self.FIELDS["retirement_scan_limit"]:
            given.append("retirement_scan_limit")
        return given


class KeyMatcher(object):
    """How a key reference a service stored names this region's copy of the key, if it does."""

    def __init__(self, kms_client, key_arn, history):
        self._resolver = KeyResolver(kms_client)
        self.key_arn = key_arn
        self._history = history

    def reference(self, key_ref):
        """DIRECT (by id, ARN or an alias naming the key now), a Reference through the alias history, or None."""
        if not key_ref:
            return None
        if is_key_arn(key_ref):
            return DIRECT if key_ref == self.key_arn else None
        try:
            if self._resolver.arn(key_ref) == self.key_arn:
                return DIRECT
        except RotationError:
            # A key this caller cannot see (another account, deleted) is not ours, unless the history says it was.
            pass
        return self._history.reference(key_ref)

    def matches(self, key_ref):
        return self.reference(key_ref) is not None


def _regions_to_search(key_info, regions):
    """(regions searched, regions skipped): a single-Region key serves only its own region."""
    wanted = list(dict.fromkeys(regions or [key_info.region]))
    if key_info.multi_region:
        return wanted, []
    return [region for region in wanted if region == key_info.region], [
        region for region in wanted if region != key_info.region]


def _entry(service, region, movable, found):
    entry = {"service": service, "resource_type": found.resource_type, "id": found.id, "arn": found.arn,
             "region": region, "movable": movable, "key_reference": found.key_ref}
    entry.update(found.details)
    return entry


def _outcome(region, key_arn, entries, reason=None):
    """One service in one region: what was found under key_arn (the key as that region knows it); a reason makes it unknown."""
    return {"status": UNKNOWN if reason else OK, "region": region, "key_arn": key_arn, "reason": reason,
            "resources": entries}


def _alias_reference(ctx, found, reference, matcher, now):
    """How a resource names the key through an alias of the history; None when its service shows it re-encrypted since."""
    via = {"alias_name": reference.alias, "until": None, "reason": describe(reference), "unreadable": False}
    if reference.until is None:
        return via
    via["until"] = moment_text(reference.until)
    try:
        still = residue.still_under_key(ctx, found, reference, matcher, now)
    except (ClientError, BotoCoreError) as exc:
        return dict(via, unreadable=True, reason="{0}; whether its data was re-encrypted since could not be read: {1}"
                    .format(via["reason"], unreadable_reason(exc)))
    if still is None:
        return None
    return dict(via, reason="{0}; {1}".format(via["reason"], still))


def _run_finder(service, finder, movable, ctx, matcher, now):
    entries = []
    try:
        for found in finder(ctx):
            reference = matcher.reference(found.key_ref)
            if reference is None:
                continue
            entry = _entry(service, ctx.region, movable, found)
            if reference.alias is not None:
                entry["alias_reference"] = _alias_reference(ctx, found, reference, matcher, now)
                if entry["alias_reference"] is None:
                    continue
            entries.append(entry)
    except Exception as exc:  # any failure makes the service unknown, never empty
        return _outcome(ctx.region, ctx.key_arn, [], unreadable_reason(exc))
    return _outcome(ctx.region, ctx.key_arn, entries)


class KeyUsageDiscovery(Engine):
    """Everything found to depend on one key, grouped by service. Makes no change, in check mode or not."""

    SPEC = UsageSpec

    def run(self, spec, check_mode=False):
        given = spec.rotation_options_given()
        if given and not spec.for_retirement:
            raise RotationError("{0} describe a rotation; without for_retirement they would be ignored.".format(
                ", ".join(given)), fix="set for_retirement: true, or leave them out.")
        targets = parse_targets(spec.targets)
        verify = BucketVerify(self.clients, spec, check_mode)
        verify.check_options()
        started_at = utc_time(spec.rotation_started_at, "rotation_started_at") if spec.rotation_started_at else None
        now = datetime.datetime.now(datetime.timezone.utc)
        key_info = KeyResolver(self.clients("kms")).resolve(spec.key_id)
        history = AliasHistory(spec.alias_history, key_info.region, key_info.account)
        searched, skipped = _regions_to_search(key_info, spec.regions)
        wanted = set(spec.services or SERVICES)
        by_service = {}
        for region in searched:
            ctx, matcher = self._region(key_info, region, history)
            for service, finder, movable in FINDERS:
                if service not in wanted:
                    continue
                outcome = _run_finder(service, finder, movable, ctx, matcher, now)
                if service == "s3" and spec.scan_objects and outcome["status"] == OK:
                    for bucket in outcome["resources"]:
                        bucket.update(s3.scan_objects(ctx, bucket["id"], matcher, spec.object_scan_limit))
                by_service.setdefault(service, []).append(outcome)
        if spec.data_key_paths:
            by_service[DATA_KEY_FILES] = [self._data_key_files(key_info, spec.data_key_paths)]
        usage, used_by = last_usage(self.clients, key_info.arn, started_at, spec.retirement_scan_limit, now)
        values = _summary(key_info, searched, skipped, by_service, usage)
        examined = []
        if spec.for_retirement:
            for target in targets:
                if bucket_name(target):
                    examined.extend(self._examine_bucket(key_info, target, history, spec.retirement_scan_limit,
                                                         verify))
            examined.extend(dict(entry, planned=False) for entry in used_by)
            for region in searched:
                examined.extend(rekeyed_dependents(self._region(key_info, region, history)[0], key_info, now))
        values.update(decide(spec.known_dependents, values["dependents"], examined=examined,
                             targets=[target.resource for target in targets], ignore_services=spec.ignore_services,
                             check_mode=check_mode, rotation=spec.for_retirement))
        return Result(values)

    def _region(self, key_info, region, history):
        """One region's search context and the matcher of the key's copy there."""
        ctx = RegionContext(self.clients, region, with_region(key_info.arn, region), self.limit)
        return ctx, KeyMatcher(self.clients("kms", region), ctx.key_arn, history.in_region(region))

    def _examine_bucket(self, key_info, target, history, limit, verify):
        """The gate's own look at every version of a target bucket (or its residue proof), in the bucket's region."""
        name = bucket_name(target)
        try:
            region = s3.bucket_region(self.clients("s3"), name)
            ctx, matcher = self._region(key_info, region, history)
            if verify.wants_proof(ctx, name):
                versioning = verify.versioning(ctx, name)
                return prove_bucket(ctx, target, matcher, limit, verify.prover(ctx, name, versioning), versioning)
            return examine_bucket(ctx, target, matcher, limit)
        except (ClientError, BotoCoreError, RotationError) as exc:
            if is_error(exc, NOT_FOUND):
                # A target bucket that no longer exists holds no data under any key.
                return []
            return [unreadable_bucket(target, key_info.arn, unreadable_reason(exc))]

    def _data_key_files(self, key_info, paths):
        try:
            found, reason = data_key_files.files_under_key(self.clients, self.limit, key_info.arn, paths)
        except RotationError as exc:
            return _outcome(key_info.region, key_info.arn, [], str(exc))
        return _outcome(key_info.region, key_info.arn, [_entry(DATA_KEY_FILES, key_info.region, True, item)
                                                        for item in found], reason)


def _dependent_resource(entry):
    """A resource as dependents name it: a bucket as s3://name, EBS resources and files by id or path, else the ARN."""
    if entry["resource_type"] == s3.BUCKET_DEFAULT_ENCRYPTION:
        return bucket_resource(entry["id"])
    if entry["resource_type"] in _NAMED_BY_ID:
        return entry["id"]
    return entry["arn"] or entry["id"]


def _found_dependent(entry, key_arn):
    via = entry.get("alias_reference")
    reason = "{0} {1} {2}".format(entry["service"], entry["resource_type"], via["reason"] if via else "uses the key")
    count = 1
    if "object_versions_under_key" in entry:
        # The bucket default counts too: an entry never stands for nothing.
        count = max(1, entry["object_versions_under_key"])
        reason += "; {0} of {1} object version(s) examined are under it".format(
            entry["object_versions_under_key"], entry["object_versions_scanned"])
        if entry["object_versions_unreadable"]:
            reason += ", {0} could not be read".format(entry["object_versions_unreadable"])
    reason += "; this collection can move it" if entry["movable"] else "; this collection cannot move it"
    reason += _ADVICE.get(entry["resource_type"], "")
    kind = UNKNOWN if via and via["unreadable"] else TO_MOVE if entry["movable"] else BLOCKING
    details = {}
    attached = [attachment["instance_id"] for attachment in entry.get("attachments", [])]
    if attached:
        # The gate reads it: a volume in use is never merely kept aside.
        details["attached_to"] = attached
    return dependent(_dependent_resource(entry), entry["service"], kind, reason, key_arn=key_arn, count=count, **details)


def _summary(key_info, searched, skipped_regions, by_service, usage):
    services = {}
    resources = []
    dependents = []
    unknown = []
    for service, outcomes in by_service.items():
        found = [entry for outcome in outcomes for entry in outcome["resources"]]
        unreadable = [outcome for outcome in outcomes if outcome["status"] == UNKNOWN]
        services[service] = {
            "status": UNKNOWN if unreadable else OK,
            "reasons": ["{0}: {1}".format(outcome["region"], outcome["reason"]) for outcome in unreadable],
            "count": len(found),
            "resources": found,
        }
        if unreadable:
            unknown.append(service)
        resources.extend(found)
        dependents.extend(_found_dependent(entry, outcome["key_arn"]) for outcome in outcomes
                          for entry in outcome["resources"])
    dependents.extend(dependent(service, service, UNKNOWN, "could not be read: " + "; ".join(services[service]["reasons"]),
                                key_arn=key_info.arn)
                      for service in sorted(unknown))
    movable = [entry for entry in resources if entry["movable"]]
    blocking = [entry for entry in resources if not entry["movable"]]
    return {
        "changed": False,
        "key_arn": key_info.arn,
        "key_id": key_info.key_id,
        "key_state": key_info.state,
        "key_manager": key_info.key_manager,
        "regions": searched,
        "regions_skipped": skipped_regions,
        "services": services,
        "resources": resources,
        "in_use": len(resources),
        "movable": len(movable),
        "movable_resources": movable,
        "blocking": len(blocking),
        "blocking_resources": blocking,
        "unknown_services": sorted(unknown),
        "unknown": len(unknown),
        "last_usage": usage,
        "dependents": dependents,
    }
