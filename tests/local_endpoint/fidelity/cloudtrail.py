"""CloudTrail's record of KMS calls, as AWS documents it, where moto 5.2 has none.

- Every KMS request the endpoint answers is recorded as CloudTrail records
  it: the operation, the keys it names (by ARN: ids and aliases resolved,
  ReEncrypt's source and destination, the key a ciphertext blob names),
  success or the error code and message answered (the refusals of
  fidelity/kms.py's Disabled and PendingDeletion keys included), eventTime,
  userIdentity as STS GetCallerIdentity derives it from the request's
  access key, sourceIPAddress and userAgent.
- CloudTrail LookupEvents (moto: not implemented) serves that log, newest
  first: one lookup attribute (ResourceName, ResourceType, EventName,
  EventId, EventSource, Username, AccessKeyId, ReadOnly), StartTime and
  EndTime (inclusive), MaxResults 1-50 (default 50) and NextToken, each
  event's CloudTrailEvent JSON as AWS writes it.
- KMS GetKeyLastUsage (moto: not implemented) answers from the same log:
  the newest successful cryptographic operation naming the key, with its
  CloudTrail event id; TrackingStartDate is the key's creation date.
- ScheduleKeyDeletion and DisableKey are AccessDeniedException when the key
  policy has a Deny statement for that action (Principal "*") whose
  condition on kms:TrailingDaysWithoutKeyUsage holds: whole days since the
  key's last successful cryptographic use, or since its creation if never
  used. A Deny statement with any other condition key is not evaluated here.
- Time passes on request: the control route `kms-pass-days` ({"days": N})
  moves every recorded event and every key's creation date N days into the
  past, as if N days had gone by since.
"""

import base64
import datetime
import functools
import json
import math
import threading
import uuid

from moto.cloudtrail import responses as cloudtrail_responses
from moto.core.exceptions import JsonRESTError
from moto.core.utils import camelcase_to_underscores
from moto.kms import models as kms_models
from moto.kms import responses as kms_responses
from moto.kms.utils import _deserialize_ciphertext_blob
from moto.sts.models import sts_backends

from . import CONTROL_ROUTES
from . import kms as kms_fidelity
from . import kms_rotation

EVENT_SOURCE = "kms.amazonaws.com"
KEY_RESOURCE_TYPE = "AWS::KMS::Key"
CONDITION_KEY = "kms:TrailingDaysWithoutKeyUsage"
# The operations that use key material: what GetKeyLastUsage and the condition key count.
CRYPTOGRAPHIC_OPERATIONS = frozenset([
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GenerateMac", "VerifyMac",
    "DeriveSharedSecret",
])
# Operations the key policy condition is enforced on.
GUARDED_OPERATIONS = ("ScheduleKeyDeletion", "DisableKey")
# Request fields naming a key, and the ciphertext fields whose blob names one.
_KEY_FIELDS = ("KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId")
_BLOB_FIELDS = ("CiphertextBlob",)
# Never logged: AWS leaves plaintext and ciphertext out of requestParameters.
_SECRET_FIELDS = frozenset(["Plaintext", "CiphertextBlob", "Message", "Signature", "Mac"])
_NUMERIC_OPERATORS = {
    "NumericLessThan": lambda actual, limit: actual < limit,
    "NumericLessThanEquals": lambda actual, limit: actual <= limit,
    "NumericGreaterThan": lambda actual, limit: actual > limit,
    "NumericGreaterThanEquals": lambda actual, limit: actual >= limit,
}
_LOOKUP_FIELDS = {
    "EventId": lambda event: [event["record"]["eventID"]],
    "EventName": lambda event: [event["record"]["eventName"]],
    "EventSource": lambda event: [EVENT_SOURCE],
    "ReadOnly": lambda event: [str(event["record"]["readOnly"]).lower()],
    "Username": lambda event: [_username(event["record"]["userIdentity"])],
    "AccessKeyId": lambda event: [event["record"]["userIdentity"].get("accessKeyId")],
    "ResourceName": lambda event: [resource["ARN"] for resource in event["record"]["resources"]],
    "ResourceType": lambda event: [KEY_RESOURCE_TYPE] if event["record"]["resources"] else [],
}
_DAY = datetime.timedelta(days=1)
_lock = threading.Lock()
_installed = False


class _CloudTrailError(JsonRESTError):
    code = 400


class AccessDeniedException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("AccessDeniedException", message)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _text(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _log(backend):
    """The KMS backend's event log, oldest first: it lives on the backend, so a reset forgets it."""
    with _lock:
        return backend.__dict__.setdefault("kmsrotate_events", [])


# Recording -------------------------------------------------------------


def _resolve(backend, reference):
    try:
        key = backend.keys.get(backend.any_id_to_key_id(reference))
    except Exception:  # an unknown alias or a malformed reference names no key: AWS logs no resource for it
        return None
    return key.arn if key is not None else None


def _blob_key(backend, blob):
    if isinstance(blob, str):
        blob = base64.b64decode(blob)
    try:
        return _resolve(backend, _deserialize_ciphertext_blob(blob).key_id)
    except Exception:  # not a blob this endpoint made: it names no key
        return None


def _named_keys(response, params, answer):
    """ARNs of the keys a request names, in its parameters, its ciphertext or its answer, once each."""
    backend = response.kms_backend
    found = [_resolve(backend, params[field]) for field in _KEY_FIELDS if isinstance(params.get(field), str)]
    found += [_blob_key(backend, params[field]) for field in _BLOB_FIELDS if params.get(field)]
    for field in ("KeyId", "SourceKeyId"):
        if isinstance(answer.get(field), str):
            found.append(_resolve(backend, answer[field]))
    metadata = answer.get("KeyMetadata") or {}
    if metadata.get("Arn"):
        found.append(metadata["Arn"])
    return list(dict.fromkeys(arn for arn in found if arn))


def _identity(response):
    """userIdentity for the request's access key, as STS GetCallerIdentity sees that key."""
    access_key = response.get_access_key()
    sts = sts_backends[response.current_account][response.partition]
    user_id, arn, account = sts.get_caller_identity(access_key, response.region)
    identity = {"principalId": user_id, "arn": arn, "accountId": account, "accessKeyId": access_key}
    role = sts.get_assumed_role_from_access_key(access_key)
    if role is not None:
        role_name = role.role_arn.rsplit("/", 1)[-1]
        identity.update(type="AssumedRole", sessionContext={
            "sessionIssuer": {"type": "Role", "principalId": user_id.split(":")[0], "arn": role.role_arn,
                              "accountId": account, "userName": role_name},
            "attributes": {"creationDate": _text(_now()), "mfaAuthenticated": "false"}})
    elif arn.endswith(":root"):
        identity["type"] = "Root"
    else:
        identity.update(type="IAMUser", userName=arn.rsplit("/", 1)[-1])
    return identity


def _username(identity):
    if identity.get("type") == "AssumedRole":
        return identity["arn"].rsplit("/", 1)[-1]
    return identity.get("userName")


def _request_parameters(params):
    return dict((name[0].lower() + name[1:], value) for name, value in params.items()
                if name not in _SECRET_FIELDS) or None


def _read_only(action):
    return action in CRYPTOGRAPHIC_OPERATIONS or action.startswith(("Describe", "Get", "List"))


def _record(response, status, body):
    action = response._get_action()  # pylint: disable=protected-access
    try:
        params = json.loads(response.body or "{}")
    except ValueError:
        params = {}
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    account = response.current_account
    record = {
        "eventVersion": "1.11",
        "userIdentity": _identity(response),
        # Written when read, from the event's time, which kms-pass-days moves.
        "eventTime": None,
        "eventSource": EVENT_SOURCE,
        "eventName": action,
        "awsRegion": response.region,
        "sourceIPAddress": response.normalized_request.remote_addr or "127.0.0.1",
        "userAgent": response.headers.get("User-Agent", ""),
    }
    if int(status) >= 400:
        record["errorCode"] = answer.get("__type", str(status)).rsplit("#", 1)[-1]
        record["errorMessage"] = answer.get("message") or answer.get("Message") or ""
    record.update({
        "requestParameters": _request_parameters(params),
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": _read_only(action),
        "resources": [{"accountId": account, "type": KEY_RESOURCE_TYPE, "ARN": arn}
                      for arn in _named_keys(response, params, answer)],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    })
    event = {"time": _now(), "record": record}
    log = _log(response.kms_backend)
    with _lock:
        log.append(event)


def _recorded(original):
    @functools.wraps(original)
    def call_action(self):
        status, headers, body = original(self)
        _record(self, status, body)
        return status, headers, body
    return call_action


# Reading: LookupEvents and GetKeyLastUsage ------------------------------


def _events(backend):
    """The log's events, newest first."""
    log = _log(backend)
    with _lock:
        return list(reversed(log))


def _entry(event):
    record = dict(event["record"], eventTime=_text(event["time"]))
    identity = record["userIdentity"]
    return {
        "EventId": record["eventID"], "EventName": record["eventName"],
        "ReadOnly": str(record["readOnly"]).lower(), "AccessKeyId": identity.get("accessKeyId"),
        "EventTime": event["time"].timestamp(), "EventSource": EVENT_SOURCE, "Username": _username(identity),
        "Resources": [{"ResourceType": KEY_RESOURCE_TYPE, "ResourceName": resource["ARN"]}
                      for resource in record["resources"]],
        "CloudTrailEvent": json.dumps(record),
    }


def _time_param(response, name):
    value = response._get_param(name)  # pylint: disable=protected-access
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    return datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc)


def _lookup_filter(attributes):
    if not attributes:
        return lambda event: True
    if len(attributes) > 1:
        raise _CloudTrailError("InvalidLookupAttributesException",
                               "You cannot have more than one lookup attribute in a request.")
    key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
    if key not in _LOOKUP_FIELDS:
        raise _CloudTrailError("InvalidLookupAttributesException", f"Invalid lookup attribute key: {key}.")
    return lambda event: value in _LOOKUP_FIELDS[key](event)


def _lookup_events(self):
    start, end = _time_param(self, "StartTime"), _time_param(self, "EndTime")
    if start and end and start > end:
        raise _CloudTrailError("InvalidTimeRangeException", "Start time must be earlier than end time.")
    size = int(self._get_param("MaxResults") or 50)  # pylint: disable=protected-access
    if not 1 <= size <= 50:
        raise _CloudTrailError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    matches = _lookup_filter(self._get_param("LookupAttributes") or [])  # pylint: disable=protected-access
    backend = kms_models.kms_backends[self.current_account][self.region]
    found = [event for event in _events(backend)
             if (start is None or event["time"] >= start) and (end is None or event["time"] <= end) and matches(event)]
    token = self._get_param("NextToken")  # pylint: disable=protected-access
    first = 0
    if token:
        ids = [event["record"]["eventID"] for event in found]
        if token not in ids:
            raise _CloudTrailError("InvalidNextTokenException", "Invalid NextToken.")
        first = ids.index(token)
    page = found[first:first + size]
    answer = {"Events": [_entry(event) for event in page]}
    if first + size < len(found):
        answer["NextToken"] = found[first + size]["record"]["eventID"]
    return json.dumps(answer)


def _last_use(backend, key):
    for event in _events(backend):
        record = event["record"]
        if (record["eventName"] in CRYPTOGRAPHIC_OPERATIONS and "errorCode" not in record
                and any(resource["ARN"] == key.arn for resource in record["resources"])):
            return event
    return None


def _get_key_last_usage(self):
    key = kms_rotation._key(self)  # pylint: disable=protected-access
    answer = {"KeyId": key.id, "KeyCreationDate": key.creation_date, "TrackingStartDate": key.creation_date,
              "KeyLastUsage": {}}
    used = _last_use(self.kms_backend, key)
    if used is not None:
        answer["KeyLastUsage"] = {"Operation": used["record"]["eventName"], "Timestamp": used["time"].timestamp(),
                                  "CloudTrailEventId": used["record"]["eventID"],
                                  "KmsRequestId": used["record"]["requestID"]}
    return json.dumps(answer)


# The key policy condition ----------------------------------------------


def trailing_days_without_use(backend, key):
    """Whole days since the key's last successful cryptographic use, or since its creation."""
    used = _last_use(backend, key)
    since = used["time"] if used else datetime.datetime.fromtimestamp(key.creation_date, datetime.timezone.utc)
    return math.floor((datetime.datetime.now(datetime.timezone.utc) - since) / _DAY)


def _listed(value):
    return value if isinstance(value, list) else [value]


def _names_action(statement, action):
    wanted = ("kms:" + action).lower()
    return any(name.lower() in (wanted, "kms:*", "*") for name in _listed(statement.get("Action", [])))


def _applies_to_everyone(statement):
    principal = statement.get("Principal")
    return principal == "*" or (isinstance(principal, dict) and "*" in _listed(principal.get("AWS", [])))


def _condition_holds(condition, days):
    """Whether every condition holds; None when one names a key this layer does not evaluate."""
    for operator, tests in condition.items():
        compare = _NUMERIC_OPERATORS.get(operator)
        if compare is None or set(tests) != {CONDITION_KEY}:
            return None
        if not any(compare(days, float(limit)) for limit in _listed(tests[CONDITION_KEY])):
            return False
    return True


def _denying_statement(backend, key, action):
    try:
        statements = _listed(json.loads(key.policy or "{}").get("Statement", []))
    except ValueError:
        return None
    days = None
    for statement in statements:
        if statement.get("Effect") != "Deny" or not _names_action(statement, action):
            continue
        if not _applies_to_everyone(statement):
            continue
        if days is None:
            days = trailing_days_without_use(backend, key)
        if _condition_holds(statement.get("Condition") or {}, days):
            return statement
    return None


def _guarded(original, action):
    @functools.wraps(original)
    def guarded(self):
        backend = self.kms_backend
        reference = self._get_param("KeyId")  # pylint: disable=protected-access
        arn = _resolve(backend, reference) if isinstance(reference, str) else None
        key = backend.keys.get(backend.get_key_id(arn)) if arn else None
        if key is not None and _denying_statement(backend, key, action) is not None:
            caller = _identity(self)["arn"]
            raise AccessDeniedException(
                f"User: {caller} is not authorized to perform: kms:{action} on resource: {key.arn} "
                "with an explicit deny in a resource-based policy")
        return original(self)
    return guarded


# Time ------------------------------------------------------------------


def pass_days(_method, payload):
    """Control route: every recorded KMS event and every key's creation date move `days` into the past."""
    days = float(payload["days"])
    shift = datetime.timedelta(days=days)
    moved_events = moved_keys = 0
    for _account, _region, backend in kms_models.kms_backends.iter_backends():
        with _lock:
            for event in backend.__dict__.get("kmsrotate_events", []):
                event["time"] -= shift
                moved_events += 1
        for key in backend.keys.values():
            key.creation_date -= shift.total_seconds()
            moved_keys += 1
    return {"days": days, "events": moved_events, "keys": moved_keys}


def install():
    global _installed
    if _installed:
        return
    # Their patches go first: GetKeyLastUsage here replaces kms_rotation's, and the
    # refusals kms.py adds are answers this layer records.
    kms_fidelity.install()
    kms_rotation.install()
    response = kms_responses.KmsResponse
    response.get_key_last_usage = _get_key_last_usage
    for action in GUARDED_OPERATIONS:
        name = camelcase_to_underscores(action)
        setattr(response, name, _guarded(getattr(response, name), action))
    response.call_action = _recorded(response.call_action)
    cloudtrail_responses.CloudTrailResponse.lookup_events = _lookup_events
    CONTROL_ROUTES["kms-pass-days"] = pass_days
    _installed = True
