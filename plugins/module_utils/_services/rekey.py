# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_service_rekey: move resources of other services from the source key to the destination.

Targets are ARNs (or `discover`: what kms_key_usage_info's finders find
under the source key in the module's region). Each ARN goes to the handler
of its service (HANDLERS); each resource is dealt with on its own, in the
engine's pool, and ends as one result entry whatever happens to it:

- moved: it was under the source key and now is under the destination (in
  check mode: would be), tagged with the markers right after the change;
- unchanged: already under the destination (a rerun: the markers say since
  when), or under neither key (not this rotation's: left alone);
- planned: under the source key, but not changed in place by this module;
  a `plans` entry says what AWS requires, and it blocks;
- not_found, other_region (an ARN of another region cannot be under this
  region's key), unknown (could not be read or changed: blocks).

Anything that still needs the old key is a dependent, and "needed until"
says until when (retention.py); the module returns the latest.
"""

import datetime

from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import UNKNOWN, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED, NOT_FOUND
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, describe_failure
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import is_error, unreadable_reason
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import lambda_functions
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.alias_history import AliasHistory
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import RegionContext
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import FINDERS, KeyMatcher
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, require_encryption_destination
from ansible_collections.kmsrotate.aws.plugins.module_utils._services import plans
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Job, ResourceNotFound
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.dynamodb import TableHandler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.kinesis import StreamHandler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.lambda_functions import FunctionHandler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.logs import LogGroupHandler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import format_time, marker_tags
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import read_marker
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER, latest
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.secretsmanager import SecretHandler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.sns import TopicHandler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.sqs import QueueHandler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.ssm import ParameterHandler

MOVED = "moved"
UNCHANGED = "unchanged"
PLANNED = "planned"
NOT_FOUND_ACTION = "not_found"
OTHER_REGION = "other_region"
UNKNOWN_ACTION = "unknown"
ACTIONS = (MOVED, UNCHANGED, PLANNED, NOT_FOUND_ACTION, OTHER_REGION, UNKNOWN_ACTION)

# (ARN service, ARN resource type) -> handler. SQS and SNS ARNs have no resource type.
HANDLERS = {
    ("secretsmanager", "secret"): SecretHandler,
    ("dynamodb", "table"): TableHandler,
    ("sqs", None): QueueHandler,
    ("sns", None): TopicHandler,
    ("logs", "log-group"): LogGroupHandler,
    ("lambda", "function"): FunctionHandler,
    ("kinesis", "stream"): StreamHandler,
    ("ssm", "parameter"): ParameterHandler,
    ("rds", "db"): plans.RdsInstancePlan,
    ("rds", "cluster"): plans.RdsClusterPlan,
    ("elasticfilesystem", "file-system"): plans.EfsPlan,
    ("ecr", "repository"): plans.EcrPlan,
    ("eks", "cluster"): plans.EksPlan,
    ("backup", "backup-vault"): plans.BackupVaultPlan,
    ("redshift", "cluster"): plans.RedshiftPlan,
}
# kms_key_usage_info's finders that `discover` runs: the services above it has a finder for.
DISCOVERED_SERVICES = ("secretsmanager", "dynamodb", "sqs", "sns", "logs", "lambda", "ssm", "rds_instances",
                       "rds_clusters", "efs")
# What those finders report that is part of another resource (and dealt with there).
_NOT_TARGETS = frozenset([lambda_functions.FUNCTION_VERSION])


class ServiceRekeySpec(Spec):
    """kms_service_rekey's options."""

    FIELDS = {
        "source_key": None,
        "destination_key": None,
        "targets": [],
        "discover": False,
        "allow_plaintext_on_controller": False,
        "concurrency": 4,
        "wait_timeout": 1800,
    }
    RANGES = {"concurrency": (1, None), "wait_timeout": (1, None)}


class RunKeys(object):
    """The run's source and destination keys (KeyInfo) and the resolver every key reference goes through."""

    __slots__ = ("source", "destination", "resolver")

    def __init__(self, source, destination, resolver):
        self.source = source
        self.destination = destination
        self.resolver = resolver


def _now():
    # To the second, as the markers keep it, so a check-mode date equals a real run's.
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def handler_for(parsed):
    """The handler class of a parsed ARN, or None."""
    if parsed is None:
        return None
    return HANDLERS.get((parsed["service"], parsed["resource_type"]))


def _parsed(arn):
    return parse_aws_arn(arn) if isinstance(arn, str) and arn.startswith("arn:") else None


def _entry(arn, service, action, reason, key_before=None, key_after=None, needed_until=None, rekeyed_at=None,
           dependents=0):
    return {"resource": arn, "service": service, "action": action, "key_before": key_before, "key_after": key_after,
            "needed_until": needed_until, "rekeyed_at": rekeyed_at, "reason": reason, "dependents": dependents}


class ResourceRun(object):
    """One resource's outcome: its result entry, the dependents it leaves, and its plan (if any)."""

    __slots__ = ("entry", "dependents", "plan")

    def __init__(self, entry, dependents=(), plan=None):
        self.entry = entry
        self.dependents = list(dependents)
        self.plan = plan
        entry["dependents"] = len(self.dependents)


class ServiceRekey(Engine):
    """Move each target to the destination key (see kms_service_rekey's RETURN)."""

    SPEC = ServiceRekeySpec

    def run(self, spec, check_mode=False):
        resolver = KeyResolver(self.clients("kms"))
        source = resolver.resolve(spec.source_key)
        destination = resolver.resolve(spec.destination_key)
        require_encryption_destination(destination)
        if source.arn == destination.arn:
            raise RotationError("source_key and destination_key are the same key.", resource=source.arn,
                                fix="name the old key in source_key and the new one in destination_key.")
        region = self.clients.region or source.region
        if source.region != region or destination.region != region:
            raise RotationError("The source key is in {0} and the destination key in {1}; this run is in {2}.".format(
                source.region, destination.region, region),
                fix="run the module in the keys' region (region option), with both keys of that region.")
        keys = RunKeys(source, destination, resolver)
        targets = _checked_targets(spec.targets)
        runs = []
        if spec.discover:
            found, unreadable = self._discover(keys, region)
            known = set(targets)
            targets.extend(arn for arn in dict.fromkeys(found) if arn not in known)
            runs.extend(unreadable)
        ordered = dict((arn, index) for index, arn in enumerate(targets))
        done = []
        for arn, run, error in run_bounded(targets, lambda arn: self._one(arn, keys, spec, region, check_mode),
                                           self.limit):
            if error is not None:
                # A handler's bug must not hide the other resources: this one is unknown, and blocks.
                run = _unknown(arn, _service_of(arn), "failed: {0}".format(describe_failure(error)), source.arn)
            done.append((ordered[arn], run))
        runs.extend(run for _index, run in sorted(done, key=lambda pair: pair[0]))
        return self._result(runs, keys, check_mode)

    def _discover(self, keys, region):
        """The ARNs kms_key_usage_info's finders see under the source key, and an unknown run per unreadable service."""
        ctx = RegionContext(self.clients, region, keys.source.arn, self.limit)
        matcher = KeyMatcher(self.clients("kms"), keys.source.arn,
                             AliasHistory([], keys.source.region, keys.source.account))
        found = []
        unreadable = []
        for service, finder, _movable in FINDERS:
            if service not in DISCOVERED_SERVICES:
                continue
            try:
                # A Lambda function's published versions are its handler's residue, not targets of their own.
                found.extend(_record_arn(record, keys.source) for record in finder(ctx)
                             if record.resource_type not in _NOT_TARGETS and matcher.matches(record.key_ref))
            except Exception as exc:  # an unreadable service is unknown, never empty (as in kms_key_usage_info)
                unreadable.append(_unknown(service, service, "discovery could not list it: {0}".format(
                    unreadable_reason(exc)), keys.source.arn))
        return found, unreadable

    def _one(self, arn, keys, spec, region, check_mode):
        parsed = _parsed(arn)
        handler_class = handler_for(parsed)
        service = handler_class.SERVICE
        if parsed["region"] != region:
            return ResourceRun(_entry(arn, service, OTHER_REGION,
                                      "in {0}: a resource can only be under a key of its own region, so it is not "
                                      "under this run's key ({1}). Fix: run kms_service_rekey in {0} with that "
                                      "region's keys, or leave it out of targets.".format(parsed["region"], region)))
        handler = handler_class(Job(arn, parsed, keys, self.clients, spec))
        try:
            current = handler.read()
        except ResourceNotFound:
            return _not_found(arn, service)
        except (ClientError, BotoCoreError, RotationError) as exc:
            if is_error(exc, NOT_FOUND):
                return _not_found(arn, service)
            return _unknown(arn, service, _failure("could not be read", exc), keys.source.arn)
        key_before = handler.job.key_arn(current.key_ref, handler.DEFAULT_KEY)
        if handler.moves(current, key_before):
            plan = handler.plan(current)
            if plan is not None:
                return ResourceRun(_entry(arn, service, PLANNED, plan["reason"], key_before, key_before, NEVER),
                                   [handler.dependent("{0} See plans for what AWS requires.".format(plan["reason"]))],
                                   plan=plan)
            return self._move(handler, current, key_before, check_mode)
        if key_before == keys.destination.arn:
            return self._already_moved(handler, current, key_before)
        return ResourceRun(_entry(arn, service, UNCHANGED,
                                  "under {0}, neither the source nor the destination key: not this rotation's to "
                                  "move, left as it is.".format(key_before or "no KMS key"), key_before, key_before))

    def _move(self, handler, current, key_before, check_mode):
        job = handler.job
        destination = job.keys.destination.arn
        changed_at = _now()
        left = []
        if not check_mode:
            # Marked before the change as well as after it: a run killed between the change and the marker after
            # it would leave a moved resource that nobody could date. The seconds between the two marks are within
            # the gate's CLOCK_SKEW. Without a marker the resource is not moved at all.
            refused = _mark_before(handler)
            if refused is not None:
                return _unknown(job.arn, handler.SERVICE, _failure(
                    "was not moved: its markers could not be written first, and without them the retirement gate "
                    "could not date what stays under the old key", refused), job.keys.source.arn,
                    key_before=key_before)
            try:
                handler.change(current)
            except (ClientError, BotoCoreError, RotationError) as exc:
                failed = _unknown(job.arn, handler.SERVICE, _failure("could not be moved", exc), job.keys.source.arn,
                                  key_before=key_before)
                if _now_under_destination(handler):
                    # The change was made but did not finish (a wait that timed out): mark it now, so a rerun
                    # and the gate date what stays under the old key from a time no earlier than the change.
                    failed.dependents.extend(_mark(handler, _now()))
                return failed
            # After the change returned (and its wait), so that nothing written before it is left out.
            changed_at = _now()
            left.extend(_mark(handler, changed_at))
        until, residue = self._residue(handler, current, changed_at)
        verb = "would move" if check_mode else "moved"
        reason = "{0} from the source key to the destination key".format(verb)
        if until not in (None, NEVER):
            reason += "; the old key is needed until {0} for what was stored before".format(until)
        return ResourceRun(_entry(job.arn, handler.SERVICE, MOVED, reason + ".", key_before, destination,
                                  until, format_time(changed_at)), residue + left)

    def _already_moved(self, handler, current, key_arn):
        job = handler.job
        try:
            moved_at = read_marker(handler.tags(), job.keys.source.arn)
        except (ClientError, BotoCoreError) as exc:
            return _unknown(job.arn, handler.SERVICE, _failure("is under the destination key, but its markers could "
                            "not be read to tell what stays under the old key", exc), job.keys.source.arn,
                            key_before=key_arn)
        if moved_at is None:
            return ResourceRun(_entry(job.arn, handler.SERVICE, UNCHANGED, "already under the destination key.",
                                      key_arn, key_arn))
        until, residue = self._residue(handler, current, moved_at)
        reason = "already under the destination key, moved from the source key at {0}".format(format_time(moved_at))
        if until not in (None, NEVER):
            reason += "; the old key is needed until {0}".format(until)
        return ResourceRun(_entry(job.arn, handler.SERVICE, UNCHANGED, reason + ".", key_arn, key_arn, until,
                                  format_time(moved_at)), residue)

    @staticmethod
    def _residue(handler, current, changed_at):
        """(needed until, dependents) after a change at changed_at; what cannot be read is unknown, and blocks."""
        try:
            residue = handler.residue(current, changed_at)
        except (ClientError, BotoCoreError, RotationError) as exc:
            return NEVER, [handler.dependent(_failure("what stays under the old key could not be read", exc),
                                             kind=UNKNOWN)]
        return residue.needed_until, list(residue.dependents)

    def _result(self, runs, keys, check_mode):
        entries = [run.entry for run in runs]
        dependents = [item for run in runs for item in run.dependents]
        counts = dict((action, 0) for action in ACTIONS)
        for entry in entries:
            counts[entry["action"]] += 1
        values = {
            "changed": counts[MOVED] > 0,
            "source_key_arn": keys.source.arn,
            "destination_key_arn": keys.destination.arn,
            "resources": entries,
            "dependents": dependents,
            "plans": [run.plan for run in runs if run.plan is not None],
            "needed_until": latest(entry["needed_until"] for entry in entries),
            "counts": counts,
            "requests": dict(self.clients.requests.counts),
            "throttling": self.limit.report(),
        }
        diff = {"before": dict((entry["resource"], entry["key_before"]) for entry in entries),
                "after": dict((entry["resource"], entry["key_after"]) for entry in entries)}
        if any(entry["service"] == ParameterHandler.SERVICE and entry["action"] == MOVED for entry in entries):
            warn("kms_service_rekey {0} SSM SecureString values in plaintext on this controller "
                 "(allow_plaintext_on_controller: true); no value is in the result or the log.".format(
                     "would read" if check_mode else "read"))
        unknown = [entry for entry in entries if entry["action"] == UNKNOWN_ACTION]
        failure = None
        if unknown:
            failure = "{0} resource(s) could not be read or moved: {1}".format(len(unknown), "; ".join(
                "{0}: {1}".format(entry["resource"], entry["reason"]) for entry in unknown))
        return Result(values, diff=diff, failure=failure)


def _checked_targets(targets):
    """The targets, de-duplicated; refused before any change when one is not an ARN this module knows."""
    checked = []
    for arn in targets:
        if handler_for(_parsed(arn)) is None:
            raise RotationError("{0!r} is not the ARN of a resource kms_service_rekey knows.".format(arn),
                                fix="give resource ARNs of Secrets Manager secrets, DynamoDB tables, SQS queues, SNS "
                                    "topics, CloudWatch Logs groups, Lambda functions, Kinesis streams, SSM "
                                    "parameters, or (for a plan) RDS instances and clusters, EFS file systems, ECR "
                                    "repositories, EKS clusters, Backup vaults and Redshift clusters.")
        if arn not in checked:
            checked.append(arn)
    return checked


def _not_found(arn, service):
    return ResourceRun(_entry(arn, service, NOT_FOUND_ACTION,
                              "does not exist (or is not visible to the caller): it holds nothing under any key."))


def _now_under_destination(handler):
    """Whether a resource whose change failed is under the destination key anyway (False when that cannot be read)."""
    try:
        current = handler.read()
    except (ClientError, BotoCoreError, RotationError, ResourceNotFound):
        return False
    return handler.job.key_arn(current.key_ref, handler.DEFAULT_KEY) == handler.job.keys.destination.arn


def _mark_before(handler):
    """Write the markers just before a change; the error when they could not be written, else None."""
    try:
        handler.tag(marker_tags(handler.job.keys.source.arn, _now()))
    except (ClientError, BotoCoreError) as exc:
        return exc
    return None


def _mark(handler, changed_at):
    """Write the markers of a change made at changed_at; a dependent when they could not be written."""
    tags = marker_tags(handler.job.keys.source.arn, changed_at)
    try:
        handler.tag(tags)
    except (ClientError, BotoCoreError) as exc:
        return [handler.dependent(
            "moved at {0}, but its markers could not be written ({1}), so the retirement gate cannot date what stays "
            "under the old key. Fix: allow the service's tagging action and tag it {2} by hand.".format(
                format_time(changed_at), describe_failure(exc), tags), kind=UNKNOWN)]
    return []


def _record_arn(record, key):
    """The ARN of a resource a finder found; SSM parameters are listed without one by some endpoints."""
    if record.arn:
        return record.arn
    if record.resource_type == "ssm_parameter":
        return "arn:{0}:ssm:{1}:{2}:parameter{3}{4}".format(
            _parsed(key.arn)["partition"], key.region, key.account, "" if record.id.startswith("/") else "/",
            record.id)
    raise RotationError("{0} {1} was listed without an ARN.".format(record.resource_type, record.id),
                        fix="name it by its ARN in targets.")


def _service_of(arn):
    handler_class = handler_for(_parsed(arn))
    return handler_class.SERVICE if handler_class else None


def _failure(what, exc):
    if is_error(exc, ACCESS_DENIED):
        operation = getattr(exc, "operation_name", None) or "the request"
        return "{0}: access denied to {1} ({2}). Fix: allow {1} to the caller, then run again.".format(
            what, operation, describe_failure(exc))
    return "{0}: {1}".format(what, describe_failure(exc))


def _unknown(arn, service, reason, source_arn, key_before=None):
    """A resource this run could not deal with: it may still be under the source key, so it blocks."""
    return ResourceRun(_entry(arn, service, UNKNOWN_ACTION, reason, key_before, key_before, NEVER),
                       [dependent(arn, service, UNKNOWN, reason, key_arn=source_arn)])
