"""Let time pass for the re-key records of kms_service_rekey, so "needed until" dates can be tested now.

kms_service_rekey tags every resource whose key it changed with
`kmsrotate:rekeyed-at` = the UTC time of the change (2026-12-01T14:00:00Z;
the name is TAG_REKEYED_AT in plugins/module_utils/_services/markers.py).
The retirement gate holds the old key until that time plus the resource's
retention (an SQS queue's MessageRetentionPeriod, a log group's
retentionInDays, a Kinesis stream's RetentionPeriodHours).

The control route `age-rekeyed-tags` ({"days": N}, optionally {"hours": H})
moves every such tag on every resource of SQS, SNS, CloudWatch Logs,
Kinesis, Secrets Manager, Lambda, DynamoDB and SSM (every account and
region of the endpoint) that far into the past, as if that long had gone by
since the change. A test re-keys, runs the gate (held, "needed until ..."),
ages the tags past the retention, and runs the gate again (let through):

    endpoint.control("age-rekeyed-tags", {"days": 5})

It answers {"aged": <tags moved>}. A tag whose value is not such a time is
left alone (the gate reports it as unreadable). Secrets Manager version
creation dates move back by as much, for every secret: the gate compares
them with the tag, and moving only the tag would make versions written
before the change look newer than it.
"""

import datetime

from moto.awslambda.models import lambda_backends
from moto.dynamodb.models import dynamodb_backends
from moto.kinesis.models import kinesis_backends
from moto.logs.models import logs_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.ssm.models import ssm_backends

from . import CONTROL_ROUTES

TAG_REKEYED_AT = "kmsrotate:rekeyed-at"
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_installed = False


def _lambda_tags(backend):
    for entry in backend._lambdas._functions.values():
        # Published versions share $LATEST's tags (tags belong to the function).
        if entry["latest"] is not None:
            yield entry["latest"].tags


# Per service: its backends, and the tag containers of one backend (a dict, or a list of {Key, Value}).
_TAG_CONTAINERS = (
    (sqs_backends, lambda backend: (queue.tags for queue in backend.queues.values())),
    (sns_backends, lambda backend: (topic._tags for topic in backend.topics.values())),
    (logs_backends, lambda backend: backend.tagger.tags.values()),
    (kinesis_backends, lambda backend: (stream.tags for stream in backend.streams.values())),
    (secretsmanager_backends, lambda backend: (secret.tags or [] for secret in backend.secrets.values())),
    (lambda_backends, _lambda_tags),
    (dynamodb_backends, lambda backend: (table.tags for table in backend.tables.values())),
    (ssm_backends, lambda backend: backend._resource_tags.get("Parameter", {}).values()),
)


def _aged(value, delta):
    try:
        moment = datetime.datetime.strptime(value, _FORMAT)
    except (TypeError, ValueError):
        return None
    return (moment - delta).strftime(_FORMAT)


def _age_container(tags, delta):
    """Move the container's TAG_REKEYED_AT back by delta; 1 if it had one that is a time, else 0."""
    if isinstance(tags, dict):
        aged = _aged(tags.get(TAG_REKEYED_AT), delta)
        if aged is None:
            return 0
        tags[TAG_REKEYED_AT] = aged
        return 1
    moved = 0
    for tag in tags:
        if tag.get("Key") == TAG_REKEYED_AT:
            aged = _aged(tag.get("Value"), delta)
            if aged is not None:
                tag["Value"] = aged
                moved += 1
    return moved


def _age_secret_versions(delta):
    seconds = int(delta.total_seconds())
    for regions in secretsmanager_backends.values():
        for backend in regions.values():
            for secret in backend.secrets.values():
                for version in getattr(secret, "versions", {}).values():
                    version["createdate"] -= seconds


def age_rekeyed_tags(_method, payload):
    delta = datetime.timedelta(days=float(payload.get("days", 0)), hours=float(payload.get("hours", 0)))
    if delta <= datetime.timedelta(0):
        raise ValueError("age-rekeyed-tags needs a positive days or hours")
    moved = 0
    for backends, containers in _TAG_CONTAINERS:
        for regions in backends.values():
            for backend in regions.values():
                for tags in containers(backend):
                    moved += _age_container(tags, delta)
    _age_secret_versions(delta)
    return {"aged": moved}


def install():
    global _installed
    if _installed:
        return
    CONTROL_ROUTES["age-rekeyed-tags"] = age_rekeyed_tags
    _installed = True
