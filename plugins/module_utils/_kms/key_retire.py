# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_key_retire: disable a KMS key, watch it, and only then schedule its deletion.

`disabled` is satisfied by a key that is Disabled or already PendingDeletion
(both refuse every cryptographic use); cancelling a scheduled deletion is a
human decision this never takes. Disabling tags the key with when it was
disabled (DISABLED_AT_TAG), the start of its watch, kept between runs.

`pending_deletion` follows AWS's own advice: disable the key, watch
CloudTrail for the uses KMS refuses (DisabledException,
KMSInvalidStateException), and delete only a key nothing asked for. The
deletion is scheduled only for a key Disabled for at least `watch_days`,
counted from the later of its tag and the newest DisableKey (or
CancelKeyDeletion, which leaves a key Disabled) CloudTrail shows, with no
refused use since then and no successful use GetKeyLastUsage reports since
then (which would mean it was enabled in between). A key with no record of
when it was disabled starts its watch now. CloudTrail that cannot be read
refuses the deletion (fail closed). Each refusal says why and how to go on,
in check mode too, so a preflight in check mode fails before any change;
`force` overrides every one of them, loudly.
"""

import datetime
import math

from ansible.module_utils.common.warnings import warn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dates import iso_date
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, error_message, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import key_last_usage
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import CLOUDTRAIL_DELAY
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import describe_event, key_events
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import refused_uses
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import GUARD_SID, guard_statement
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import guarded_actions, guarded_days
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import read_policy

# The retirement states kms_key_retire offers (its `state` choices).
STATES = ("disabled", "pending_deletion")
_RETIRABLE_STATES = ("Enabled", "Disabled", "PendingDeletion")
# When this collection disabled the key (UTC, ISO 8601): the start of its watch.
DISABLED_AT_TAG = "kmsrotate:disabled-at"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The calls after which a key is Disabled.
_DISABLING_EVENTS = ("DisableKey", "CancelKeyDeletion")
_DAY = datetime.timedelta(days=1)


class KeyRetireSpec(Spec):
    """kms_key_retire's options."""

    FIELDS = {
        "key_id": None,
        "state": "disabled",
        "pending_window_days": 30,
        "watch_days": 14,
        "reenable_on_refused_use": False,
        "force": False,
    }
    RANGES = {"pending_window_days": (7, 30, "KMS"), "watch_days": (0, None)}


def cancel_instructions(key):
    """The commands that undo a scheduled deletion, for the result and the log."""
    return ("aws kms cancel-key-deletion --key-id {0} --region {1} "
            "(the key is then Disabled; aws kms enable-key --key-id {0} --region {1} brings it back)").format(key.arn, key.region)


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _text(moment):
    return moment.strftime(_TIME_FORMAT) if moment else None


def _parse(text):
    """A time written by this collection or an AWS answer (ISO 8601); None for none, or for a tag someone garbled."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(datetime.timezone.utc) if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


class _Watch(object):
    """What the watch of a key found, and why its deletion must wait.

    `start` is the moment the watch counts from: when the key was disabled,
    or, for a key not disabled yet, now (the soonest it could start).
    """

    def __init__(self, watch_days):
        self.watch_days = watch_days
        self.start = None
        self.disabled = False
        self.record = None
        self.refused = []
        self.last_usage = None
        # Whether refused uses were looked for (a pending_deletion run).
        self.checked = False
        # (what is wrong, how to go on): deletion is allowed only when empty.
        self.reasons = []

    def disabled_from(self, moment, record):
        self.start, self.disabled, self.record = moment, True, record

    @property
    def ends_at(self):
        """When watch_days have passed."""
        return self.start + self.watch_days * _DAY if self.start is not None else None

    @property
    def eligible_at(self):
        """When the deletion can be scheduled: once the watch's last minutes are visible in CloudTrail too."""
        if self.start is None:
            return None
        return self.ends_at + (CLOUDTRAIL_DELAY if self.watch_days else datetime.timedelta(0))

    def days_left(self, now):
        """Whole days of the watch still to come (0 also while only CloudTrail's delay remains)."""
        if self.start is None:
            return None
        return max(0, int(math.ceil((self.ends_at - now) / _DAY)))

    def as_result(self, now):
        """The `watch` result; refused_uses and deletion_allowed are null when nothing was checked."""
        checked = self.checked
        return {
            "disabled_since": _text(self.start) if self.disabled else None,
            "watch_days": self.watch_days,
            "days_left": self.days_left(now),
            "eligible_at": _text(self.eligible_at),
            "refused_uses": [{"principal": event.principal, "operation": event.event_name,
                              "time": _text(event.event_time), "source_address": event.source_address,
                              "event_id": event.event_id} for event in self.refused] if checked else None,
            "last_usage": self.last_usage,
            "deletion_allowed": not self.reasons if checked else None,
        }


class KeyRetire(Engine):
    """One retirement (see kms_key_retire's RETURN); the diff is the key state before and after."""

    SPEC = KeyRetireSpec

    def run(self, spec, check_mode=False):
        kms = self.clients("kms")
        keys = KeyResolver(kms)
        key = keys.resolve(spec.key_id)
        if key.key_manager != "CUSTOMER":
            raise RotationError("This key is managed by AWS; AWS-managed and AWS-owned keys can never be disabled or deleted.",
                                resource=key.arn, fix="retire only customer-managed keys; data moved off this key needs no retirement.")
        if key.state not in _RETIRABLE_STATES:
            raise RotationError("The key is {0}; only an Enabled or Disabled key can be retired.".format(key.state),
                                resource=key.arn, fix="wait until the key leaves the {0} state, then run again.".format(key.state))

        now = _utc_now()
        window = spec.pending_window_days
        before = key.state
        watch = _Watch(spec.watch_days)
        forced = []
        if spec.state == "disabled":
            changed = self._disable(kms, key, watch, now, check_mode)
        elif before == "PendingDeletion":
            changed = False
        else:
            forced = self._schedule_deletion(kms, key, spec, watch, now, check_mode)
            changed = True

        after = before
        deletion_date = None
        if changed and check_mode:
            after = "Disabled" if spec.state == "disabled" else "PendingDeletion"
        elif changed or before == "PendingDeletion":
            keys.forget(key.arn)
            current = keys.resolve(key.arn)
            after = current.state
            deletion_date = iso_date(current.metadata.get("DeletionDate"))

        if forced:
            warn("kms_key_retire scheduled the deletion of {0} with force: true, overriding: {1}".format(
                key.arn, " ".join(forced)))
        values = {
            "changed": changed,
            "key_arn": key.arn,
            "key_state_before": before,
            "key_state": after,
            "deletion_date": deletion_date,
            "pending_window_days": window if spec.state == "pending_deletion" else None,
            "cancel_deletion": cancel_instructions(key) if after == "PendingDeletion" else None,
            "watch": watch.as_result(now),
            "forced": bool(forced),
            "forced_reasons": forced,
            "msg": _message(key, before, after, deletion_date, check_mode, window, watch, forced),
        }
        return Result(values, diff={"before": {"key_state": before}, "after": {"key_state": after}})

    def _disable(self, kms, key, watch, now, check_mode):
        """Disable an Enabled key (True) or leave a retired one alone; either way, `watch` gets its start."""
        if key.state != "Enabled":
            tagged = self._tagged_disabled_at(kms, key)
            if tagged is not None:
                watch.disabled_from(tagged, "tag " + DISABLED_AT_TAG)
            return False
        watch.disabled_from(now, "this run")
        if not check_mode:
            # Tagged first: a tag without a disable is harmless (an Enabled key is never deleted, and
            # a later DisableKey is newer), a disable without its tag would lose the watch's start.
            self._tag_disabled_at(kms, key, now)
            self._change(kms, key, "DisableKey", kms.disable_key)
        return True

    def _schedule_deletion(self, kms, key, spec, watch, now, check_mode):
        """Schedule the deletion if the watch allows it or `force` overrides it; the refusals overridden."""
        touched = self._watch(kms, key, spec, watch, now, check_mode)
        if watch.reasons and not spec.force:
            raise self._refusal(key, watch, now, touched, spec)
        if not check_mode:
            self._change(kms, key, "ScheduleKeyDeletion", kms.schedule_key_deletion,
                         PendingWindowInDays=spec.pending_window_days)
        return [reason for reason, _fix in watch.reasons]

    # The watch -------------------------------------------------------------

    def _watch(self, kms, key, spec, watch, now, check_mode):
        """Fill `watch` for a pending_deletion run; True when this run changed the key (a tag, a re-enable)."""
        watch.checked = True
        if key.state == "Enabled":
            watch.start = now
            watch.reasons.append((
                "The key is Enabled; it must first be Disabled for {0} day(s) with no refused use.".format(
                    spec.watch_days),
                "disable it first (state: disabled); deletion can be scheduled from {0}.".format(
                    _text(watch.eligible_at))))
            return False
        tagged = self._tagged_disabled_at(kms, key)
        events = self._events(key, start=tagged or now - spec.watch_days * _DAY, watch=watch)
        disabled_by = next((event for event in events or []
                            if event.event_name in _DISABLING_EVENTS and event.error_code is None), None)
        if disabled_by is not None and (tagged is None or disabled_by.event_time > tagged):
            watch.disabled_from(disabled_by.event_time, "CloudTrail " + disabled_by.event_name)
        elif tagged is not None:
            watch.disabled_from(tagged, "tag " + DISABLED_AT_TAG)
        changed = False
        if watch.start is None:
            watch.disabled_from(now, "no earlier record: the watch starts now")
            changed = True
            if not check_mode:
                self._tag_disabled_at(kms, key, now)
        if now < watch.eligible_at:
            days_left = watch.days_left(now)
            left = ("{0} day(s) left".format(days_left) if days_left
                    else "its last minutes are not in CloudTrail yet")
            watch.reasons.append((
                "The key has been Disabled since {0} ({1}): {2} of the {3}-day watch.".format(
                    _text(watch.start), watch.record, left, spec.watch_days),
                "run again from {0} ({1}).".format(_text(watch.eligible_at), left)))
        if events is not None:
            watch.refused = [event for event in refused_uses(events) if event.event_time >= watch.start]
        self._check_last_usage(kms, key, watch)
        if watch.refused:
            reenable = spec.reenable_on_refused_use and not spec.force
            fix = "find what still uses the key (the callers above) and move it to the new key; the watch starts " \
                  "again when the key is disabled again."
            if reenable:
                changed = True
                fix = "the key {0} re-enabled so those callers work again; {1}".format(
                    "would be" if check_mode else "was", fix)
                if not check_mode:
                    self._change(kms, key, "EnableKey", kms.enable_key)
            watch.reasons.append((
                "{0} use(s) of the key were refused since it was disabled on {1}: {2}.".format(
                    len(watch.refused), _text(watch.start),
                    "; ".join(describe_event(event) for event in watch.refused)),
                fix))
        return changed

    def _events(self, key, start, watch):
        """The key's CloudTrail events from `start`, newest first; None (and a reason) when CloudTrail cannot be read."""
        try:
            return list(key_events(self.clients("cloudtrail", key.region), key.arn, start_time=start))
        except (ClientError, BotoCoreError) as exc:
            permission = " (permission cloudtrail:LookupEvents)" if is_error(exc, ACCESS_DENIED) else ""
            watch.reasons.append((
                "CloudTrail event history could not be read{0}: {1}; refused uses of the key cannot be ruled "
                "out.".format(permission, error_message(exc)),
                "allow cloudtrail:LookupEvents in {0} to the caller, or set force: true to schedule the deletion "
                "without this check.".format(key.region)))
            return None

    def _check_last_usage(self, kms, key, watch):
        watch.last_usage = key_last_usage(kms, key.arn)
        used_at = _parse(watch.last_usage.get("timestamp"))
        # Compared to the second: CloudTrail's times (and so the watch's start) have no finer precision.
        if used_at is not None and used_at.replace(microsecond=0) > watch.start:
            watch.reasons.append((
                "GetKeyLastUsage shows a successful {0} at {1}, after the key was disabled on {2}: it was enabled "
                "and used in between.".format(watch.last_usage["operation"], _text(used_at),
                                              _text(watch.start)),
                "find what used the key (CloudTrail event {0}) and move it; the watch starts again when the key "
                "is disabled again.".format(watch.last_usage.get("cloudtrail_event_id"))))

    @staticmethod
    def _refusal(key, watch, now, changed, spec):
        before = key.state
        after = "Enabled" if spec.reenable_on_refused_use and watch.refused else before
        return RotationError(
            "Deletion refused: {0}".format(" ".join(reason for reason, _fix in watch.reasons)),
            resource=key.arn, fix=" ".join(fix for _reason, fix in watch.reasons) + " force: true overrides this.",
            details={"changed": changed, "key_arn": key.arn, "key_state_before": before,
                     "key_state": after, "watch": watch.as_result(now)})

    # KMS --------------------------------------------------------------------

    @staticmethod
    def _tagged_disabled_at(kms, key):
        for tag in items(kms, "list_resource_tags", "Tags", KeyId=key.key_id):
            if tag["TagKey"] == DISABLED_AT_TAG:
                return _parse(tag["TagValue"])
        return None

    @staticmethod
    def _tag_disabled_at(kms, key, moment):
        kms.tag_resource(KeyId=key.key_id, Tags=[{"TagKey": DISABLED_AT_TAG, "TagValue": _text(moment)}],
                         aws_retry=True)

    @staticmethod
    def _change(kms, key, operation, call, **params):
        """One key state change; a denial by the retirement guard becomes a RotationError that says so."""
        try:
            call(KeyId=key.key_id, aws_retry=True, **params)
        except ClientError as exc:
            if not is_error(exc, ACCESS_DENIED):
                raise
            try:
                guard = guard_statement(read_policy(kms, key.arn))
            except ClientError:
                guard = None
            if guard is None or "kms:" + operation not in guarded_actions(guard):
                raise
            raise RotationError(
                "The key policy's retirement guard (Sid {0}) denies {1} until the key has gone {2} day(s) without "
                "a cryptographic use.".format(GUARD_SID, operation, guarded_days(guard)),
                resource=key.arn, fix="wait until then, or remove the guard (kms_key_policy_guard state: absent).")


def _message(key, before, after, deletion_date, check_mode, pending_window_days, watch, forced):
    if after == "PendingDeletion":
        when = deletion_date or "in {0} days".format(pending_window_days)
        verb = "would be scheduled for deletion" if check_mode and before != after else "is scheduled for deletion"
        text = "{0} {1} on {2}. To cancel: {3}.".format(key.arn, verb, when, cancel_instructions(key))
        if forced:
            text = "FORCED (force: true overrode: {0}) {1}".format(" ".join(forced), text)
        return text
    if before == after:
        text = "{0} is already {1}.".format(key.arn, after)
    else:
        text = "{0} {1} {2} (was {3}); aws kms enable-key --key-id {0} --region {4} undoes it.".format(
            key.arn, "would be" if check_mode else "is now", after, before, key.region)
    if watch.eligible_at is not None:
        text += " Its deletion can be scheduled from {0}, after a {1}-day watch with no refused use.".format(
            _text(watch.eligible_at), watch.watch_days)
    return text
