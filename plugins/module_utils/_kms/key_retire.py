# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_key_retire: disable a KMS key, or schedule its deletion, idempotently.

`disabled` is satisfied by a key that is Disabled or already PendingDeletion
(both refuse every cryptographic use); cancelling a scheduled deletion is a
human decision this never takes. `pending_deletion` schedules the deletion
directly: KMS makes the key unusable at once, and a cancelled deletion leaves
it Disabled, so disabling first would add nothing.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dates import iso_date
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver

# The retirement states kms_key_retire offers (its `state` choices).
STATES = ("disabled", "pending_deletion")
_RETIRABLE_STATES = ("Enabled", "Disabled", "PendingDeletion")


class KeyRetireSpec(Spec):
    """kms_key_retire's options."""

    FIELDS = {
        "key_id": None,
        "state": "disabled",
        "pending_window_days": 30,
    }
    RANGES = {"pending_window_days": (7, 30, "KMS")}


def cancel_instructions(key):
    """The commands that undo a scheduled deletion, for the result and the log."""
    return ("aws kms cancel-key-deletion --key-id {0} --region {1} "
            "(the key is then Disabled; aws kms enable-key --key-id {0} --region {1} brings it back)").format(key.arn, key.region)


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

        window = spec.pending_window_days
        before = key.state
        changed = False
        if spec.state == "disabled" and before == "Enabled":
            changed = True
            if not check_mode:
                kms.disable_key(KeyId=key.arn, aws_retry=True)
        elif spec.state == "pending_deletion" and before != "PendingDeletion":
            changed = True
            if not check_mode:
                kms.schedule_key_deletion(KeyId=key.arn, PendingWindowInDays=window, aws_retry=True)

        after = before
        deletion_date = None
        if changed and check_mode:
            after = "Disabled" if spec.state == "disabled" else "PendingDeletion"
        elif changed or before == "PendingDeletion":
            keys.forget(key.arn)
            current = keys.resolve(key.arn)
            after = current.state
            deletion_date = iso_date(current.metadata.get("DeletionDate"))

        values = {
            "changed": changed,
            "key_arn": key.arn,
            "key_state_before": before,
            "key_state": after,
            "deletion_date": deletion_date,
            "pending_window_days": window if spec.state == "pending_deletion" else None,
            "cancel_deletion": cancel_instructions(key) if after == "PendingDeletion" else None,
            "msg": _message(key, before, after, deletion_date, check_mode, window),
        }
        return Result(values, diff={"before": {"key_state": before}, "after": {"key_state": after}})


def _message(key, before, after, deletion_date, check_mode, pending_window_days):
    if after == "PendingDeletion":
        when = deletion_date or "in {0} days".format(pending_window_days)
        verb = "would be scheduled for deletion" if check_mode and before != after else "is scheduled for deletion"
        return "{0} {1} on {2}. To cancel: {3}.".format(key.arn, verb, when, cancel_instructions(key))
    if before == after:
        return "{0} is already {1}.".format(key.arn, after)
    return "{0} {1} {2} (was {3}); aws kms enable-key --key-id {0} --region {4} undoes it.".format(
        key.arn, "would be" if check_mode else "is now", after, before, key.region)
