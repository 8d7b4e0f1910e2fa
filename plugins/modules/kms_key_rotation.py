#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_key_rotation
short_description: Tell how a KMS key can rotate, and manage its automatic and on-demand rotation
version_added: 0.1.0
description:
  - Reads a KMS key (C(DescribeKey), C(GetKeyRotationStatus), C(ListKeyRotations), C(ListAliases)) and returns who
    manages it, where its key material comes from, its spec and usage, its multi-Region role, its rotation status,
    period and completed rotations, and the rotation RV(strategy) that fits it, with a one-line reason.
  - V(automatic) means KMS can rotate the key in place, keeping its id, with no re-encryption. V(on_demand) means the
    key has imported material with new material pending, so it can rotate now. V(rekey) means KMS cannot rotate this
    key in place (asymmetric, HMAC, custom key store, or imported material with nothing pending). Create a new key and
    re-encrypt the data with the C(kmsrotate.aws.rotation) role. V(none) means AWS manages the key (or it is pending
    deletion). There is nothing to rotate; re-key the data to a customer managed key to take control.
  - Optionally enables or disables automatic rotation, sets its period, or rotates the key material on demand.
    Keys KMS cannot act on are refused with an error naming why (AWS managed, asymmetric, HMAC, custom key store,
    imported material, pending deletion, disabled, multi-Region replica with the ARN of its primary).
  - Without any action option it only reads, and never reports a change.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  enable_automatic_rotation:
    description:
      - V(true) enables automatic rotation of the key material. V(false) disables it.
      - When omitted, automatic rotation is left as it is.
    type: bool
  rotation_period_days:
    description:
      - Days between automatic rotations, from 90 to 2560. Needs O(enable_automatic_rotation=true).
      - When omitted, KMS keeps the current period (365 days for a key that had none).
    type: int
  rotate_on_demand:
    description:
      - Rotate the key material now with C(RotateKeyOnDemand). KMS allows 25 on-demand rotations per key.
      - A key with imported material rotates only once new material was imported and is pending rotation.
      - Nothing is done while an on-demand rotation is still in progress.
      - Every run rotates again unless O(on_demand_min_age_days) is set. Set it to make the task idempotent.
    type: bool
    default: false
  on_demand_min_age_days:
    description:
      - With O(rotate_on_demand=true), rotate only when the current key material is at least this many days old.
        The age counts from the last rotation, or from the key's creation if it never rotated.
    type: int
notes:
  - Permissions needed are C(kms:DescribeKey), C(kms:GetKeyRotationStatus), C(kms:ListKeyRotations) and
    C(kms:ListAliases). The actions also need C(kms:EnableKeyRotation), C(kms:DisableKeyRotation) or
    C(kms:RotateKeyOnDemand).
  - Supports check mode and diff mode. The diff shows the rotation status, period, last rotation and number of
    rotations before and after.
  - To find what still uses a key before retiring it, see M(kmsrotate.aws.kms_key_usage_info).
extends_documentation_fragment:
  - kmsrotate.aws.key
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Which rotation fits this key?
  kmsrotate.aws.kms_key_rotation:
    key_id: alias/my-key
  register: my_key

- name: Show the strategy
  ansible.builtin.debug:
    msg: "{{ my_key.strategy }}: {{ my_key.strategy_reason }}"

- name: Rotate automatically every 180 days
  kmsrotate.aws.kms_key_rotation:
    key_id: alias/my-key
    enable_automatic_rotation: true
    rotation_period_days: 180

- name: Rotate now, but not again if the material is less than 30 days old
  kmsrotate.aws.kms_key_rotation:
    key_id: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
    rotate_on_demand: true
    on_demand_min_age_days: 30

- name: Take the rotation role for keys KMS cannot rotate in place
  ansible.builtin.include_role:
    name: kmsrotate.aws.rotation
  vars:
    kms_rotation_source_key: alias/my-signing-key
  when: my_key.strategy == 'rekey'
"""

RETURN = r"""
key_arn:
  description: The key ARN.
  returned: always
  type: str
  sample: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
key_id:
  description: The key id.
  returned: always
  type: str
  sample: ee740549-6491-47b0-810d-1365b9b52792
region:
  description: The key's region.
  returned: always
  type: str
  sample: us-east-1
account:
  description: The key's account.
  returned: always
  type: str
  sample: "111122223333"
key_state:
  description: The key state, for example C(Enabled), C(Disabled) or C(PendingDeletion).
  returned: always
  type: str
key_manager:
  description: C(CUSTOMER) or C(AWS).
  returned: always
  type: str
origin:
  description: Where the key material comes from. C(AWS_KMS), C(EXTERNAL) (imported), C(AWS_CLOUDHSM) or C(EXTERNAL_KEY_STORE).
  returned: always
  type: str
key_spec:
  description: The key spec, for example C(SYMMETRIC_DEFAULT), C(RSA_2048) or C(HMAC_256).
  returned: always
  type: str
key_usage:
  description: C(ENCRYPT_DECRYPT), C(SIGN_VERIFY), C(GENERATE_VERIFY_MAC) or C(KEY_AGREEMENT).
  returned: always
  type: str
custom_key_store_id:
  description: The custom key store holding the key, if any.
  returned: always
  type: str
description:
  description: The key's description.
  returned: always
  type: str
creation_date:
  description: When the key was created (ISO 8601).
  returned: always
  type: str
multi_region:
  description: Whether the key is a multi-Region key.
  returned: always
  type: bool
multi_region_key_type:
  description: C(PRIMARY) or C(REPLICA) for a multi-Region key, else null.
  returned: always
  type: str
primary_key_arn:
  description: The primary key of a multi-Region key, else null.
  returned: always
  type: str
aliases:
  description: Alias names pointing at the key.
  returned: always
  type: list
  elements: str
  sample: [alias/my-key]
rotation_enabled:
  description: Whether automatic rotation is on. Always true for AWS managed keys.
  returned: always
  type: bool
rotation_period_days:
  description: Days between automatic rotations, when it is on.
  returned: always
  type: int
  sample: 365
next_rotation_date:
  description: The next automatic rotation (ISO 8601), when it is on.
  returned: always
  type: str
on_demand_rotation_start_date:
  description: When an on-demand rotation still in progress started (ISO 8601), else null.
  returned: always
  type: str
rotations:
  description: Completed rotations of the key material, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    rotation_date:
      description: When it rotated (ISO 8601).
      type: str
    rotation_type:
      description: C(AUTOMATIC) or C(ON_DEMAND).
      type: str
last_rotation_date:
  description: The latest completed rotation (ISO 8601), else null.
  returned: always
  type: str
pending_key_material:
  description: Whether new imported key material waits to be rotated in (C(EXTERNAL) origin only).
  returned: always
  type: bool
strategy:
  description: The rotation strategy that fits the key, after any action of this task.
  returned: always
  type: str
  choices: [automatic, on_demand, rekey, none]
  sample: automatic
strategy_reason:
  description: Why, in one line, with what to do next.
  returned: always
  type: str
  sample: "symmetric key with KMS key material: enable automatic rotation with a period of 90-2560 days"
actions:
  description: What this task did (or would do, in check mode).
  returned: always
  type: list
  elements: str
  sample: [enable_automatic_rotation]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_rotation import KeyRotation


def main():
    argument_spec = dict(
        key_id=dict(type="str", required=True),
        enable_automatic_rotation=dict(type="bool"),
        rotation_period_days=dict(type="int"),
        rotate_on_demand=dict(type="bool", default=False),
        on_demand_min_age_days=dict(type="int"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, KeyRotation)


if __name__ == "__main__":
    main()
