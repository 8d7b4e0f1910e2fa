#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_key_retire
short_description: Disable a KMS key, watch it, then schedule its deletion, idempotently
version_added: 0.1.0
description:
  - Retires a customer-managed KMS key once nothing depends on it any more, the way AWS advises
    (disable, watch, then delete).
  - O(state=disabled) disables an Enabled key and tags it C(kmsrotate:disabled-at) with the time (UTC), the start of
    its watch; a key already Disabled or pending deletion is left alone.
  - O(state=pending_deletion) schedules the key's deletion after O(pending_window_days); the result gives the
    deletion date and the command that cancels it. A key already pending deletion keeps its date.
  - Deletion is scheduled only for a key that has been Disabled for at least O(watch_days) with no refused use in
    that time. Disabled since is the later of its C(kmsrotate:disabled-at) tag and the newest C(DisableKey) (or
    C(CancelKeyDeletion)) CloudTrail shows. The check reads CloudTrail C(LookupEvents) for events naming the key
    with error code C(DisabledException) or C(KMSInvalidStateException), and C(GetKeyLastUsage); a successful use
    after disabled since means the key was enabled in between.
  - The deletion is refused, in check mode too, with what to do next, when the key is Enabled (disable it first),
    Disabled for less than O(watch_days) (the result says how many days are left), Disabled with no record of
    when (the tag is written now and the watch starts), when refused uses were found (listed, with principal,
    operation, time and source address), when GetKeyLastUsage shows a use since, or when CloudTrail cannot be
    read (fail closed). O(force=true) overrides all of these, with RV(forced) and a warning.
  - CloudTrail shows a call minutes after it is made, so a watch ends 15 minutes after O(watch_days) have passed.
  - If the key policy's retirement guard (M(kmsrotate.aws.kms_key_policy_guard)) denies C(DisableKey) or
    C(ScheduleKeyDeletion) while the key is still being used, the task fails saying so; O(force) cannot
    override a policy.
  - This module does not check what still uses the key. The C(kmsrotate.aws.rotation) role calls it only after its
    verify phase found nothing left; use M(kmsrotate.aws.kms_key_usage_info) before calling it on your own.
  - Refuses AWS-managed and AWS-owned keys, which can never be disabled.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  state:
    description:
      - C(disabled) or C(pending_deletion).
    type: str
    choices: [disabled, pending_deletion]
    default: disabled
  pending_window_days:
    description:
      - Days between scheduling and deletion, 7 to 30 as KMS allows. Only used with O(state=pending_deletion).
    type: int
    default: 30
  watch_days:
    description:
      - Days the key must have been Disabled, with no refused use, before O(state=pending_deletion) schedules its
        deletion. V(0) schedules it at once for a Disabled key, still refusing if a use was refused since it was
        disabled.
    type: int
    default: 14
  reenable_on_refused_use:
    description:
      - With O(state=pending_deletion), when refused uses are found, enable the key again (in a real run) so its
        callers work, and still refuse the deletion. Not with O(force=true), which schedules the deletion instead.
    type: bool
    default: false
  force:
    description:
      - Schedule the deletion even when the watch refuses it (too early, never disabled, refused uses found,
        CloudTrail unreadable). The result has RV(forced=true) and the reasons overridden, and the task warns.
    type: bool
    default: false
notes:
  - Supports check mode and diff (the key state before and after). In check mode a refused deletion fails the
    task too, so a preflight in check mode stops before any change.
  - A scheduled deletion is never cancelled by this module; RV(cancel_deletion) says how to cancel it.
  - "Permissions: kms:DescribeKey, kms:DisableKey, kms:TagResource, kms:ListResourceTags; with
    O(state=pending_deletion) also kms:ScheduleKeyDeletion, kms:GetKeyLastUsage, cloudtrail:LookupEvents (in the
    key's Region), and kms:EnableKey with O(reenable_on_refused_use)."
extends_documentation_fragment:
  - kmsrotate.aws.key
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Disable the old key once nothing uses it
  kmsrotate.aws.kms_key_retire:
    key_id: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab

- name: Two weeks later, schedule its deletion in 30 days if no use was refused meanwhile
  kmsrotate.aws.kms_key_retire:
    key_id: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
    state: pending_deletion
    pending_window_days: 30
    watch_days: 14
    reenable_on_refused_use: true
  register: retired

- name: Show the deletion date
  ansible.builtin.debug:
    msg: "{{ retired.deletion_date }}: {{ retired.cancel_deletion }}"
"""

RETURN = r"""
key_arn:
  description: ARN of the retired key.
  returned: always
  type: str
key_state_before:
  description: Key state before this run.
  returned: always
  type: str
  sample: Enabled
key_state:
  description: Key state after this run (in check mode, the state it would have).
  returned: always
  type: str
  sample: Disabled
deletion_date:
  description: When KMS deletes the key, if it is pending deletion (null in check mode before scheduling).
  returned: always
  type: str
  sample: "2025-07-01T12:00:00+00:00"
pending_window_days:
  description: The waiting period asked for with O(state=pending_deletion), else null.
  returned: always
  type: int
cancel_deletion:
  description: How to cancel the scheduled deletion, when the key is pending deletion.
  returned: always
  type: str
watch:
  description:
    - The disable-then-watch check. With O(state=disabled) only its dates (RV(watch.refused_uses) and
      RV(watch.deletion_allowed) are null, as nothing was checked); with O(state=pending_deletion) the whole check.
    - A refused deletion fails the task with this key in its result too.
  returned: always
  type: dict
  contains:
    disabled_since:
      description: Since when the key has been Disabled (UTC), null if not known or not disabled.
      type: str
      sample: "2025-06-01T12:00:00Z"
    watch_days:
      description: O(watch_days).
      type: int
      sample: 14
    days_left:
      description: Whole days until the deletion can be scheduled, 0 when it can; null if not known.
      type: int
      sample: 3
    eligible_at:
      description: From when the deletion can be scheduled (UTC), if nothing is refused meanwhile.
      type: str
      sample: "2025-06-15T12:15:00Z"
    refused_uses:
      description: The uses KMS refused since disabled since, newest first; null when not checked.
      type: list
      elements: dict
      contains:
        principal:
          description: Who called (the CloudTrail userIdentity ARN, else its principal id or invoking service).
          type: str
        operation:
          description: The KMS operation refused.
          type: str
          sample: Decrypt
        time:
          description: When (UTC).
          type: str
        source_address:
          description: The caller's source IP address or service, where CloudTrail gives it.
          type: str
        event_id:
          description: The CloudTrail event id.
          type: str
    last_usage:
      description:
        - The key's GetKeyLastUsage answer (C(available), C(used), C(operation), C(timestamp),
          C(cloudtrail_event_id), C(tracking_start_date), C(key_creation_date)), as M(kmsrotate.aws.kms_key_usage_info)
          reports it; C(available=false) with a C(reason) where the endpoint does not answer it. Null when not
          checked.
      type: dict
    deletion_allowed:
      description: Whether the watch allows the deletion (before O(force)); null when not checked.
      type: bool
forced:
  description: Whether O(force=true) overrode a refusal of the watch to schedule this deletion.
  returned: always
  type: bool
forced_reasons:
  description: The refusals O(force=true) overrode (empty when none).
  returned: always
  type: list
  elements: str
msg:
  description: One line saying what was done and how to undo it.
  returned: always
  type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_retire import STATES, KeyRetire


def main():
    argument_spec = dict(
        key_id=dict(type="str", required=True),
        state=dict(type="str", choices=list(STATES), default="disabled"),
        pending_window_days=dict(type="int", default=30),
        watch_days=dict(type="int", default=14),
        reenable_on_refused_use=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, KeyRetire)


if __name__ == "__main__":
    main()
