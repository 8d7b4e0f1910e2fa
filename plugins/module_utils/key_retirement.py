# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Retire a KMS key: disable it, or schedule its deletion, idempotently.

`disabled` is satisfied by a key that is Disabled or already PendingDeletion
(both refuse every cryptographic use); cancelling a scheduled deletion is a
human decision this never takes. `pending_deletion` schedules the deletion
directly: KMS makes the key unusable at once, and a cancelled deletion leaves
it Disabled, so disabling first would add nothing.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils.keys import KeyResolver

STATES = ("disabled", "pending_deletion")
PENDING_WINDOW_DAYS = (7, 30)
_RETIRABLE_STATES = ("Enabled", "Disabled", "PendingDeletion")


def cancel_instructions(key):
    """The commands that undo a scheduled deletion, for the result and the log."""
    return ("aws kms cancel-key-deletion --key-id {0} --region {1} "
            "(the key is then Disabled; aws kms enable-key --key-id {0} --region {1} brings it back)").format(key.arn, key.region)


def _date(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def retire_key(kms, key_id, state="disabled", pending_window_days=30, check_mode=False):
    """Result dict of one retirement (see kms_key_retire's RETURN)."""
    if state not in STATES:
        raise RotationError("Unknown retirement state {0!r}.".format(state), fix="use one of: {0}.".format(", ".join(STATES)))
    low, high = PENDING_WINDOW_DAYS
    if not low <= int(pending_window_days) <= high:
        raise RotationError("pending_window_days is {0}; KMS accepts {1} to {2}.".format(pending_window_days, low, high),
                            fix="give a window of {0} to {1} days.".format(low, high))
    keys = KeyResolver(kms)
    key = keys.resolve(key_id)
    if key.key_manager != "CUSTOMER":
        raise RotationError("This key is managed by AWS; AWS-managed and AWS-owned keys can never be disabled or deleted.",
                            resource=key.arn, fix="retire only customer-managed keys; data moved off this key needs no retirement.")
    if key.state not in _RETIRABLE_STATES:
        raise RotationError("The key is {0}; only an Enabled or Disabled key can be retired.".format(key.state),
                            resource=key.arn, fix="wait until the key leaves the {0} state, then run again.".format(key.state))

    before = key.state
    changed = False
    if state == "disabled" and before == "Enabled":
        changed = True
        if not check_mode:
            kms.disable_key(KeyId=key.arn, aws_retry=True)
    elif state == "pending_deletion" and before != "PendingDeletion":
        changed = True
        if not check_mode:
            kms.schedule_key_deletion(KeyId=key.arn, PendingWindowInDays=int(pending_window_days), aws_retry=True)

    after = before
    deletion_date = None
    if changed and check_mode:
        after = "Disabled" if state == "disabled" else "PendingDeletion"
    elif changed or before == "PendingDeletion":
        keys.forget(key.arn)
        current = kms.describe_key(KeyId=key.arn, aws_retry=True)["KeyMetadata"]
        after = current["KeyState"]
        deletion_date = _date(current.get("DeletionDate"))

    result = {
        "changed": changed,
        "key_arn": key.arn,
        "key_state_before": before,
        "key_state": after,
        "deletion_date": deletion_date,
        "pending_window_days": int(pending_window_days) if state == "pending_deletion" else None,
        "cancel_deletion": cancel_instructions(key) if after == "PendingDeletion" else None,
        "diff": {"before": {"key_state": before}, "after": {"key_state": after}},
    }
    result["msg"] = _message(key, before, after, deletion_date, check_mode, pending_window_days)
    return result


def _message(key, before, after, deletion_date, check_mode, pending_window_days):
    if after == "PendingDeletion":
        when = deletion_date or "in {0} days".format(pending_window_days)
        verb = "would be scheduled for deletion" if check_mode and before != after else "is scheduled for deletion"
        return "{0} {1} on {2}. To cancel: {3}.".format(key.arn, verb, when, cancel_instructions(key))
    if before == after:
        return "{0} is already {1}.".format(key.arn, after)
    return "{0} {1} {2} (was {3}); aws kms enable-key --key-id {0} --region {4} undoes it.".format(
        key.arn, "would be" if check_mode else "is now", after, before, key.region)
