# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Whether a resource that names the key through a moved alias still holds data under the source key.

A service given `alias/app` encrypts each item under the key the alias names
when the item is written; moving the alias re-encrypts nothing. A resource
that references an alias of the rotation's history therefore depends on the
source key unless its service shows that everything it stored was written
after the alias moved (`until`). The rules, per resource type (the module's
notes say the same):

- Secrets Manager secret: every version with a staging label (AWSCURRENT,
  AWSPREVIOUS, AWSPENDING, custom labels) was created after the move.
  Versions without a label (deprecated) are not counted: Secrets Manager
  keeps them only until it cleans them up, and no staging label reads them.
- SSM SecureString parameter: the current version and every labelled version
  was written after the move, or under another key than the source (each
  version of GetParameterHistory names its own key). Older unlabelled
  versions are not counted, as for secrets.
- SQS queue: SQS encrypts messages with a data key it reuses for
  KmsDataKeyReusePeriodSeconds and keeps them for MessageRetentionPeriod, so
  the last message under the source key is gone once both periods (as the
  queue has them now) have passed since the move.
- Any other resource: its service shows nothing that proves its data was
  re-encrypted, so it holds until it names another key by id or ARN, or is
  moved by its own service's procedure.

A rule returns None when the data is shown re-encrypted, else why it still
holds. An AWS error propagates: the engine reports that resource unknown.
Data written up to CLOCK_SKEW after `until` counts as written before it: the
time was read on another clock than the one that dated the data.
"""

import datetime

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.alias_history import CLOCK_SKEW, moment_text
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.secretsmanager import secret_versions

# SQS's largest retention period and data-key reuse period, taken when the queue does not say.
_SQS_MAX_RETENTION_SECONDS = 1209600
_SQS_MAX_DATA_KEY_REUSE_SECONDS = 86400
# Listed in a reason, at most.
_NAMED = 5


def _written_before(moment, until):
    # A version whose service gives no date may be older than the move.
    return moment is None or moment <= until + CLOCK_SKEW


def _secret(ctx, found, until, _matcher, _now):
    older = [version for version in secret_versions(ctx.client("secretsmanager"), found.arn or found.id)
             if version.get("VersionStages") and _written_before(version.get("CreatedDate"), until)]
    if not older:
        return None
    labels = sorted(label for version in older for label in version["VersionStages"])
    return "its version(s) labelled {0} were created before then, under the source key".format(", ".join(labels[:_NAMED]))


def _parameter_version_under_key(version, matcher):
    reference = matcher.reference(version.get("KeyId"))
    if reference is None:
        return False
    if reference.until is None:
        return True
    return _written_before(version.get("LastModifiedDate"), reference.until)


def _parameter(ctx, found, _until, matcher, _now):
    history = list(items(ctx.client("ssm"), "get_parameter_history", "Parameters", Name=found.id, WithDecryption=False))
    newest = max([version["Version"] for version in history] or [0])
    under = [version for version in history if (version["Version"] == newest or version.get("Labels"))
             and _parameter_version_under_key(version, matcher)]
    if not under:
        return None
    return "its version(s) {0} (the current one or labelled) were written before then, under the source key".format(
        ", ".join(str(version["Version"]) for version in under[:_NAMED]))


def _queue(ctx, found, until, _matcher, now):
    attributes = ctx.client("sqs").get_queue_attributes(
        QueueUrl=found.details["url"], AttributeNames=["MessageRetentionPeriod", "KmsDataKeyReusePeriodSeconds"],
        aws_retry=True).get("Attributes", {})
    retention = int(attributes.get("MessageRetentionPeriod", _SQS_MAX_RETENTION_SECONDS))
    reuse = int(attributes.get("KmsDataKeyReusePeriodSeconds", _SQS_MAX_DATA_KEY_REUSE_SECONDS))
    gone_at = until + CLOCK_SKEW + datetime.timedelta(seconds=retention + reuse)
    if now >= gone_at:
        return None
    return ("messages sent within its data-key reuse period ({0} s) of the move are kept for its retention period "
            "({1} s) under the source key: look again after {2}").format(reuse, retention, moment_text(gone_at))


_RULES = {
    "secretsmanager_secret": _secret,
    "ssm_parameter": _parameter,
    "sqs_queue": _queue,
}


def still_under_key(ctx, found, reference, matcher, now):
    """Why `found`, which names the key through reference (an alias of the history that moved), still holds, or None."""
    rule = _RULES.get(found.resource_type)
    if rule is None:
        return "its service shows nothing that proves its data was re-encrypted since"
    return rule(ctx, found, reference.until, matcher, now)
