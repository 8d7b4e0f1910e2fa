# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What CloudTrail and GetKeyLastUsage say a KMS key was used for, and by whom.

CloudTrail event history (LookupEvents) keeps 90 days of management events,
KMS's cryptographic calls among them, successes and refusals alike; it is
what AWS names as the authority on a key's use ("disable the key and
monitor CloudTrail for DisabledException entries"). GetKeyLastUsage only
gives the last successful cryptographic operation, with its CloudTrail event
id and no caller.

Both trail reality. CloudTrail delivers an event minutes after the call
(CLOUDTRAIL_DELAY is the margin this collection allows), and GetKeyLastUsage
can lag by up to an hour (LAST_USAGE_DELAY): an answer shows every use older
than that and may miss newer ones. A reader that needs "no use since T" is
only sure of it up to now minus the delay, and must treat a use it cannot
see yet as possible, never as absent: kms_key_retire ends a watch only once
its last minutes are in CloudTrail, and the retirement gate reads CloudTrail
over the last hour that GetKeyLastUsage may not show yet.

LookupEvents takes one lookup attribute per call and answers at most two
calls per second per account and Region (throttling is retried by
aws_retry), so readers look a key up by its ARN (ResourceName) over the
shortest window that answers their question.
"""

import collections
import datetime
import json

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dates import iso_date
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import unreadable_reason
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items

KMS_EVENT_SOURCE = "kms.amazonaws.com"
# The error codes KMS answers a use of a Disabled key (DisabledException) or
# of a key in another unusable state, such as PendingDeletion.
REFUSAL_CODES = ("DisabledException", "KMSInvalidStateException")
# The operations that use a key's material (what GetKeyLastUsage and kms:TrailingDaysWithoutKeyUsage count).
CRYPTOGRAPHIC_OPERATIONS = frozenset([
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GenerateMac", "VerifyMac",
    "DeriveSharedSecret",
])
CLOUDTRAIL_DELAY = datetime.timedelta(minutes=15)
LAST_USAGE_DELAY = datetime.timedelta(hours=1)

# One CloudTrail event naming a key. event_time is timezone-aware (UTC);
# error_code is None for a success; principal is who called (userIdentity's
# arn, else its principalId, else the service that invoked it or its type).
KeyEvent = collections.namedtuple(
    "KeyEvent", ("event_id", "event_name", "event_time", "error_code", "principal", "source_address", "user_agent"))


def _utc(value):
    return value.astimezone(datetime.timezone.utc) if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _event_time(record, entry):
    text = record.get("eventTime")
    if text:
        return _utc(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")))
    return _utc(entry["EventTime"])


def _principal(identity):
    return (identity.get("arn") or identity.get("principalId") or identity.get("invokedBy")
            or identity.get("type"))


def key_event(entry):
    """The KeyEvent of one LookupEvents entry."""
    record = json.loads(entry.get("CloudTrailEvent") or "{}")
    return KeyEvent(
        event_id=record.get("eventID") or entry.get("EventId"),
        event_name=record.get("eventName") or entry.get("EventName"),
        event_time=_event_time(record, entry),
        error_code=record.get("errorCode"),
        principal=_principal(record.get("userIdentity") or {}),
        source_address=record.get("sourceIPAddress"),
        user_agent=record.get("userAgent"),
    )


def key_events(cloudtrail, key_arn, start_time, end_time=None):
    """Every KMS event of CloudTrail's event history naming the key from start_time (to end_time), newest first."""
    window = {"StartTime": start_time}
    if end_time is not None:
        window["EndTime"] = end_time
    for entry in items(cloudtrail, "lookup_events", "Events",
                       LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key_arn}], **window):
        if entry.get("EventSource") == KMS_EVENT_SOURCE:
            yield key_event(entry)


def event_by_id(cloudtrail, event_id):
    """The KeyEvent with this CloudTrail event id (GetKeyLastUsage's CloudTrailEventId), or None if not (yet) there."""
    for entry in items(cloudtrail, "lookup_events", "Events",
                       LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": event_id}]):
        return key_event(entry)
    return None


def refused_uses(events):
    """The events KMS refused because the key was disabled or otherwise unusable."""
    return [event for event in events if event.error_code in REFUSAL_CODES]


def caller_principals(sts):
    """The principals CloudTrail records for this run's own calls (GetCallerIdentity's Arn and UserId).

    An assumed role's calls are logged under its session ARN
    (arn:aws:sts::<account>:assumed-role/<role>/<session>), or the role's own
    ARN (arn:aws:iam::<account>:role/<role>); both count. A role with a path
    is logged with the path in its role ARN, which GetCallerIdentity does not
    give: such events count as someone else's, which only holds more back.
    """
    identity = sts.get_caller_identity(aws_retry=True)
    principals = set([identity["Arn"], identity["UserId"]])
    partition, _service, _region, account, resource = identity["Arn"].split(":", 5)[1:]
    if resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        principals.add("arn:{0}:iam::{1}:role/{2}".format(partition, account, role))
    return frozenset(principals)


def foreign_uses(events, own_principals):
    """The successful cryptographic events of the key whose caller is not one of own_principals."""
    return [event for event in events
            if event.error_code is None and event.event_name in CRYPTOGRAPHIC_OPERATIONS
            and event.principal not in own_principals]


def describe_event(event):
    """'<principal> <operation> at <time> from <address>', for messages."""
    text = "{0} {1} at {2}".format(event.principal or "an unknown caller", event.event_name,
                                   event.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if event.error_code:
        text += " (refused: {0})".format(event.error_code)
    if event.source_address:
        text += " from {0}".format(event.source_address)
    return text


def key_last_usage(kms, key_arn):
    """GetKeyLastUsage in snake_case, or `available: false` with why."""
    try:
        answer = kms.get_key_last_usage(KeyId=key_arn, aws_retry=True)
    except Exception as exc:  # any failure only makes last usage unavailable: endpoints (and SDKs) may lack the operation
        return {"available": False, "reason": unreadable_reason(exc)}
    usage = answer.get("KeyLastUsage") or {}
    return {"available": True, "used": bool(usage), "operation": usage.get("Operation"),
            "timestamp": iso_date(usage.get("Timestamp")), "cloudtrail_event_id": usage.get("CloudTrailEventId"),
            "tracking_start_date": iso_date(answer.get("TrackingStartDate")),
            "key_creation_date": iso_date(answer.get("KeyCreationDate"))}
