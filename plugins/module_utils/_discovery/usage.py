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

A service the caller may not read, or that fails, is reported `unknown` with
the reason: an unreadable service is never reported as empty, because that
is how a key gets disabled under a database nobody listed.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.arn import with_region
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, TO_MOVE, UNKNOWN
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import bucket_resource, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import data_key_files, dynamodb, ebs, efs
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import kms, lambda_functions, logs, rds, s3
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import secretsmanager, sns, sqs, ssm
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import RegionContext, unreadable_reason
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.retirement import decide
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, is_key_arn

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
        "ignore_services": [],
        "concurrency": 10,
    }
    RANGES = {"concurrency": (1, None), "object_scan_limit": (1, None)}


class KeyMatcher(object):
    """Does a key reference a service stored name this region's copy of the key?"""

    def __init__(self, kms_client, key_arn):
        self._resolver = KeyResolver(kms_client)
        self.key_arn = key_arn

    def matches(self, key_ref):
        if not key_ref:
            return False
        if is_key_arn(key_ref):
            return key_ref == self.key_arn
        try:
            return self._resolver.arn(key_ref) == self.key_arn
        except RotationError:
            # A key this caller cannot see (another account, deleted) is not ours.
            return False


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


def _run_finder(service, finder, movable, ctx, matcher):
    try:
        entries = [_entry(service, ctx.region, movable, found) for found in finder(ctx) if matcher.matches(found.key_ref)]
    except Exception as exc:  # any failure makes the service unknown, never empty
        return _outcome(ctx.region, ctx.key_arn, [], unreadable_reason(exc))
    return _outcome(ctx.region, ctx.key_arn, entries)


class KeyUsageDiscovery(Engine):
    """Everything found to depend on one key, grouped by service. Makes no change, in check mode or not."""

    SPEC = UsageSpec

    def run(self, spec, check_mode=False):
        if (spec.known_dependents or spec.targets) and not spec.for_retirement:
            raise RotationError("known_dependents and targets describe a rotation; without for_retirement they would be ignored.",
                                fix="set for_retirement: true, or leave them out.")
        home_kms = self.clients("kms")
        key_info = KeyResolver(home_kms).resolve(spec.key_id)
        searched, skipped = _regions_to_search(key_info, spec.regions)
        wanted = set(spec.services or SERVICES)
        by_service = {}
        for region in searched:
            ctx = RegionContext(self.clients, region, with_region(key_info.arn, region), self.limit)
            matcher = KeyMatcher(self.clients("kms", region), ctx.key_arn)
            for service, finder, movable in FINDERS:
                if service not in wanted:
                    continue
                outcome = _run_finder(service, finder, movable, ctx, matcher)
                if service == "s3" and spec.scan_objects and outcome["status"] == OK:
                    for bucket in outcome["resources"]:
                        bucket.update(s3.scan_objects(ctx, bucket["id"], matcher, spec.object_scan_limit))
                by_service.setdefault(service, []).append(outcome)
        if spec.data_key_paths:
            by_service[DATA_KEY_FILES] = [self._data_key_files(key_info, spec.data_key_paths)]
        values = _summary(key_info, searched, skipped, by_service, kms.key_last_usage(home_kms, key_info.arn))
        values.update(decide(spec.known_dependents, values["dependents"], targets=spec.targets,
                             ignore_services=spec.ignore_services, check_mode=check_mode, rotation=spec.for_retirement))
        return Result(values)

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
    reason = "{0} {1} uses the key".format(entry["service"], entry["resource_type"])
    count = 1
    if "object_versions_under_key" in entry:
        # The bucket default counts too: an entry never stands for nothing.
        count = max(1, entry["object_versions_under_key"])
        reason += "; {0} of {1} object version(s) examined are under it".format(
            entry["object_versions_under_key"], entry["object_versions_scanned"])
    reason += "; this collection can move it" if entry["movable"] else "; this collection cannot move it"
    return dependent(_dependent_resource(entry), entry["service"], TO_MOVE if entry["movable"] else BLOCKING, reason,
                     key_arn=key_arn, count=count)


def _summary(key_info, searched, skipped_regions, by_service, last_usage):
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
        "last_usage": last_usage,
        "dependents": dependents,
    }
