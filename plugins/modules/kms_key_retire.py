#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_key_retire
short_description: Disable a KMS key or schedule its deletion, idempotently
version_added: 0.1.0
description:
  - Retires a customer-managed KMS key once nothing depends on it any more.
  - O(state=disabled) disables an Enabled key; a key already Disabled or pending deletion is left alone.
  - O(state=pending_deletion) schedules the key's deletion after O(pending_window_days); the result gives the
    deletion date and the command that cancels it. A key already pending deletion keeps its date.
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
notes:
  - Supports check mode and diff (the key state before and after).
  - A scheduled deletion is never cancelled by this module; RV(cancel_deletion) says how to cancel it.
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

- name: Schedule its deletion in 30 days and say how to cancel
  kmsrotate.aws.kms_key_retire:
    key_id: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
    state: pending_deletion
    pending_window_days: 30
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
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, KeyRetire)


if __name__ == "__main__":
    main()
