# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The retirement gate's look at resources kms_service_rekey moved away from the key: "needed until".

A resource whose key kms_service_rekey changed no longer names the source
key, so discovery does not find it; but data it stored before the change may
still be under the source key. kms_service_rekey tags each such resource
(markers.py: REKEYED_FROM = the source key's ARN, REKEYED_AT = when). For a
rotation, in each region searched, the gate lists every resource of the
services kms_service_rekey changes in place (SQS, SNS, CloudWatch Logs,
Kinesis, Secrets Manager, DynamoDB, SSM), reads its tags, and asks each one
tagged as moved away from the key what still needs the key, with
kms_service_rekey's own rule for its service (the `residue` of its handler
in _services/, so the module and the gate always agree):

- data that ages out holds the key until a date: an SQS queue's messages
  (the change, plus the data-key reuse period, plus MessageRetentionPeriod),
  a log group's events (retentionInDays), a Kinesis stream's records
  (RetentionPeriodHours), a DynamoDB table's point-in-time recovery window.
  Each is one blocking dependent naming the resource and the date, until the
  date plus CLOCK_SKEW (the tag was written on the controller's clock) has
  passed; a run after it lets the key through with no more work;
- data that never ages out blocks until someone acts: a log group with no
  retention, Secrets Manager versions that UpdateSecret did not re-encrypt
  (no AWSCURRENT, AWSPENDING or AWSPREVIOUS label, created before the
  change), DynamoDB backups made before it, labelled SSM history versions.
  These are the handler's own dependents, with needed_until "never".

Retention is read as it is now, so a retention changed since counts.
Lambda's published versions keep the key they were published with, tagged
or not: discovery's Lambda finder lists them for every function.

Fail closed: a service whose resources cannot be listed, or a resource
whose tags, retention or history cannot be read, is `unknown` (it holds);
a REKEYED_AT that is not a time is unknown too. A resource deleted since it
was listed holds nothing.
"""

import collections

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, UNKNOWN, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import is_error, unreadable_reason
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.alias_history import CLOCK_SKEW, moment_text
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver
from ansible_collections.kmsrotate.aws.plugins.module_utils._services import dynamodb, kinesis, logs, secretsmanager
from ansible_collections.kmsrotate.aws.plugins.module_utils._services import sns, sqs, ssm
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Job, ResourceNotFound
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import REKEYED_AT, REKEYED_FROM
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import parse_time
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER

# The keys a handler's job names (as kms_service_rekey's engine hands them): the source as the region knows it
# (a multi-Region key's replica there). The gate knows no destination: a stand-in that is not multi-Region makes
# the DynamoDB rule count every replica under the source key's replicas as left behind (fail closed).
_Keys = collections.namedtuple("_Keys", ("source", "destination", "resolver"))
_Key = collections.namedtuple("_Key", ("arn", "multi_region"))


def _queue_arns(ctx, partition, _account):
    for url in items(ctx.client("sqs"), "list_queues", "QueueUrls"):
        owner, name = url.rstrip("/").rsplit("/", 2)[-2:]
        yield "arn:{0}:sqs:{1}:{2}:{3}".format(partition, ctx.region, owner, name)


def _topic_arns(ctx, _partition, _account):
    return (topic["TopicArn"] for topic in items(ctx.client("sns"), "list_topics", "Topics"))


def _log_group_arns(ctx, _partition, _account):
    return (group["arn"] for group in items(ctx.client("logs"), "describe_log_groups", "logGroups"))


def _stream_arns(ctx, partition, account):
    return ("arn:{0}:kinesis:{1}:{2}:stream/{3}".format(partition, ctx.region, account(), name)
            for name in items(ctx.client("kinesis"), "list_streams", "StreamNames"))


def _secret_arns(ctx, _partition, _account):
    return (secret["ARN"] for secret in items(ctx.client("secretsmanager"), "list_secrets", "SecretList"))


def _table_arns(ctx, partition, account):
    return ("arn:{0}:dynamodb:{1}:{2}:table/{3}".format(partition, ctx.region, account(), name)
            for name in items(ctx.client("dynamodb"), "list_tables", "TableNames"))


def _parameter_arns(ctx, partition, account):
    # Only a SecureString has a key; kms_service_rekey tags no other parameter.
    for parameter in items(ctx.client("ssm"), "describe_parameters", "Parameters",
                           ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}]):
        yield "arn:{0}:ssm:{1}:{2}:parameter/{3}".format(partition, ctx.region, account(),
                                                         parameter["Name"].lstrip("/"))


# (service, the ARNs of its resources in a region (a lister takes the context, the partition and a callable
# answering the caller's account), kms_service_rekey's handler, what ages out by the date).
SOURCES = (
    ("sqs", _queue_arns, sqs.QueueHandler, "messages sent before the key change expire then"),
    ("sns", _topic_arns, sns.TopicHandler, "what was stored before the key change ages out then"),
    ("logs", _log_group_arns, logs.LogGroupHandler, "events written before the key change expire then"),
    ("kinesis", _stream_arns, kinesis.StreamHandler, "records written before the key change expire then"),
    ("secretsmanager", _secret_arns, secretsmanager.SecretHandler,
     "what was stored before the key change ages out then"),
    ("dynamodb", _table_arns, dynamodb.TableHandler,
     "point-in-time recovery can restore the table as it was before the key change until then"),
    ("ssm", _parameter_arns, ssm.ParameterHandler, "what was stored before the key change ages out then"),
)


def _unknown(resource, service, key_arn, reason):
    return dependent(resource, service, UNKNOWN, reason, key_arn=key_arn, planned=False)


class _Look(object):
    """One region's look: the key there, and what each tagged resource still needs of it at `now`."""

    def __init__(self, ctx, key_info, now):
        self.ctx = ctx
        self.now = now
        # kms_service_rekey names the key by its ARN in the resource's region (a multi-Region key's replica there).
        self.key_arns = frozenset([ctx.key_arn, key_info.arn])
        self.keys = _Keys(_Key(ctx.key_arn, key_info.multi_region), _Key(None, False), KeyResolver(ctx.client("kms")))
        self._account = None

    def account(self):
        """The caller's account, which owns the resources listed by name only (streams, tables, parameters)."""
        if self._account is None:
            self._account = self.ctx.client("sts").get_caller_identity(aws_retry=True)["Account"]
        return self._account

    def service(self, service, arns, handler_class, ages):
        partition = parse_aws_arn(self.ctx.key_arn)["partition"]

        def look(arn):
            try:
                return self.resource(service, arn, handler_class, ages)
            except ResourceNotFound:
                return None
            except (ClientError, BotoCoreError) as exc:
                if is_error(exc, NOT_FOUND):
                    # Deleted since it was listed: it holds no data under any key.
                    return None
                return [_unknown(arn, service, self.ctx.key_arn, (
                    "{0} {1}: whether it was moved away from the source key, or what of its data still needs the "
                    "key, could not be read: {2}").format(service, arn, unreadable_reason(exc)))]

        for entries in self.ctx.read_each(arns(self.ctx, partition, self.account), look):
            yield from entries

    def resource(self, service, arn, handler_class, ages):
        handler = handler_class(Job(arn, parse_aws_arn(arn), self.keys, self.ctx.client, None))
        tags = handler.tags()
        if tags.get(REKEYED_FROM) not in self.key_arns:
            return None
        source_arn = tags[REKEYED_FROM]
        changed_at = parse_time(tags.get(REKEYED_AT))
        if changed_at is None:
            return [_unknown(arn, service, source_arn, (
                "{0} {1} is tagged {2} with the source key, but its {3} tag ({4!r}) is not a time like "
                "2026-12-01T14:00:00Z, so when its old data ages out is not known: run kms_service_rekey on it "
                "again, or fix the tag").format(service, arn, REKEYED_FROM, REKEYED_AT, tags.get(REKEYED_AT)))]
        residue = handler.residue(handler.read(), changed_at)
        entries = [dict(entry, planned=False, needed_until=NEVER if entry["kind"] == BLOCKING else None,
                        reason="{0} {1} (moved away from the source key at {2}): {3}".format(
                            service, entry["resource"], moment_text(changed_at), entry["reason"]))
                   for entry in residue.dependents]
        if residue.needed_until == NEVER and not any(entry["kind"] == BLOCKING for entry in entries):
            entries.append(dependent(arn, service, BLOCKING, (
                "{0} {1} was moved away from the source key at {2}, but what it stored before may need the key for "
                "ever").format(service, arn, moment_text(changed_at)), key_arn=source_arn, planned=False,
                needed_until=NEVER))
        elif residue.needed_until not in (None, NEVER):
            until = parse_time(residue.needed_until) + CLOCK_SKEW
            if self.now < until:
                entries.append(dependent(arn, service, BLOCKING, (
                    "{0} {1} was moved away from the source key at {2}; needed until {3}: {4} (its retention as it "
                    "is now, with {5} minutes for the clocks); run the gate again after that time, it then lets "
                    "the key through").format(service, arn, moment_text(changed_at), moment_text(until), ages,
                                              int(CLOCK_SKEW.total_seconds() // 60)),
                    key_arn=source_arn, planned=False, needed_until=moment_text(until)))
        return entries


def rekeyed_dependents(ctx, key_info, now):
    """The gate's dependents of one region's resources moved away from the key, each with `needed_until`."""
    look = _Look(ctx, key_info, now)
    entries = []
    for service, arns, handler_class, ages in SOURCES:
        try:
            entries.extend(look.service(service, arns, handler_class, ages))
        except Exception as exc:  # any failure makes the service's look unknown, never empty
            entries.append(_unknown(service, service, ctx.key_arn, (
                "{0} in {1}: its resources could not be listed, or their tags read, to find those moved away from "
                "the source key whose old data may still need it: {2}").format(
                    service, ctx.region, unreadable_reason(exc))))
    return entries
