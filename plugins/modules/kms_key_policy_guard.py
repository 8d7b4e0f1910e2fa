#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_key_policy_guard
short_description: Deny retiring a KMS key by hand while it is still being used
version_added: 0.1.0
description:
  - Adds to (or removes from) a customer-managed key's policy one statement, Sid C(kmsrotate-retirement-guard),
    that denies O(actions) to every principal while the key's C(kms:TrailingDaysWithoutKeyUsage) (whole days since
    its last successful cryptographic use, or since its creation) is below O(days).
  - An explicit Deny wins over every Allow, the account's administrators included, so nobody disables or deletes
    the key by hand while something still uses it. The guard never denies C(kms:PutKeyPolicy), so it can always
    be removed with O(state=absent).
  - Every other statement of the policy is left as it is. Policies are compared as parsed JSON, so a rerun
    changes nothing.
  - Refuses AWS-managed keys, whose policy cannot be changed.
  - With C(kms:DisableKey) in O(actions), M(kmsrotate.aws.kms_key_retire) cannot disable the key either until it
    has gone O(days) without use; with C(kms:ScheduleKeyDeletion) and O(days) above the retirement's watch, the
    deletion waits for the guard too.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  state:
    description:
      - V(present) adds the statement, or updates it to O(days) and O(actions); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  days:
    description:
      - The guard holds while the key was used within the last O(days) days. At least 1. Required with
        O(state=present).
    type: int
  actions:
    description:
      - The actions denied while the guard holds.
    type: list
    elements: str
    choices: ["kms:ScheduleKeyDeletion", "kms:DisableKey"]
    default: ["kms:ScheduleKeyDeletion"]
notes:
  - Supports check mode and diff (the key policy before and after).
  - "Permissions: kms:DescribeKey, kms:GetKeyPolicy, kms:PutKeyPolicy."
extends_documentation_fragment:
  - kmsrotate.aws.key
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Nobody deletes or disables the old key while it was used in the last 30 days
  kmsrotate.aws.kms_key_policy_guard:
    key_id: alias/orders-2023
    days: 30
    actions: ["kms:ScheduleKeyDeletion", "kms:DisableKey"]

- name: Remove the guard
  kmsrotate.aws.kms_key_policy_guard:
    key_id: alias/orders-2023
    state: absent
"""

RETURN = r"""
key_arn:
  description: ARN of the key.
  returned: always
  type: str
state:
  description: O(state).
  returned: always
  type: str
statement:
  description: The guard's statement as it is (or, in check mode, would be) in the policy; null with O(state=absent).
  returned: always
  type: dict
  sample:
    Sid: kmsrotate-retirement-guard
    Effect: Deny
    Principal: "*"
    Action: kms:ScheduleKeyDeletion
    Resource: "*"
    Condition:
      NumericLessThan:
        kms:TrailingDaysWithoutKeyUsage: "30"
policy:
  description: The key policy after this run (in check mode, as it would be).
  returned: always
  type: dict
msg:
  description: One line saying what the guard does now and how to remove it.
  returned: always
  type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import GUARDED_ACTIONS, STATES
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import PolicyGuard


def main():
    argument_spec = dict(
        key_id=dict(type="str", required=True),
        state=dict(type="str", choices=list(STATES), default="present"),
        days=dict(type="int"),
        actions=dict(type="list", elements="str", choices=list(GUARDED_ACTIONS), default=["kms:ScheduleKeyDeletion"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[("state", "present", ["days"])])
    run_module(module, PolicyGuard)


if __name__ == "__main__":
    main()
