#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_successor_key
short_description: Find or create the KMS key that replaces a source key, and move aliases to it
version_added: 0.1.0
description:
  - Names the destination key of a rotation. Either an existing key (O(destination_key_id)) is checked, or, with
    O(create_key=true), the successor of O(source_key_id) is found by its tag C(kmsrotate:source-key-arn) and created
    only when none exists, so a repeated or interrupted rotation never creates a second key.
  - A created key is a symmetric encryption key whose policy is, unless O(policy) is given, a copy of the source
    key's policy (KMS's default policy when the source is AWS-managed, whose policy trusts only its service).
  - Moves aliases to the destination with UpdateAlias, so applications that encrypt through an alias use the new key
    at once. M(amazon.aws.kms_key) cannot move an alias.
  - Records every alias it moves as a tag C(kmsrotate:moved:<alias name>) on the destination key, whose value is
    when the alias stopped pointing at the source key (UTC). RV(alias_history) returns that record, which outlives the
    run, because resources that reference the source key through such an alias still hold data under it.
  - Fails before any change when the destination is the source, disabled, not a symmetric encryption key, or in
    another region.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  source_key_id:
    description:
      - The key being rotated away from, as key id, key ARN, alias name or alias ARN.
      - An alias that an earlier run already moved to a successor this module created leads back to the key that
        successor replaces (its C(kmsrotate:source-key-arn) tag) while that key is still Enabled, since the rotation is in
        progress, and a rerun naming the source by alias stays on it.
      - Once the replaced key is Disabled or pending deletion, that rotation is finished and the alias's current key
        is the source, so naming the source by alias then starts the next rotation. RV(source_reason) says which case
        applied.
    type: str
    required: true
  destination_key_id:
    description:
      - An existing key to rotate to, in any form. Give either this or O(create_key=true).
    type: str
  create_key:
    description:
      - Find the successor created by an earlier run (tag C(kmsrotate:source-key-arn)), or create it.
    type: bool
    default: false
  description:
    description:
      - Description of a created key. Default names the source key.
    type: str
  tags:
    description:
      - Tags of a created key, besides the C(kmsrotate:source-key-arn) tag this module always sets.
    type: dict
  policy:
    description:
      - Key policy of a created key, as JSON text or a dict. Default is a copy of the source key's policy.
      - Only used when the key is created; an existing key's policy is left as it is.
    type: json
  aliases:
    description:
      - Aliases to point at the destination key, with or without the C(alias/) prefix.
      - Default is every alias that points at the source key now (C(alias/aws/*) excepted).
      - An alias that does not exist is created; one that points at a third key is refused.
    type: list
    elements: str
notes:
  - Supports check mode and diff. In check mode a key that would be created has no ARN yet; RV(destination_key_arn)
    is then null and RV(created) true.
  - A found key's description, tags and policy are left as they are; manage them with M(amazon.aws.kms_key).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create (once) the successor of the key behind alias/app-data and move its aliases to it
  kmsrotate.aws.kms_successor_key:
    source_key_id: alias/app-data
    create_key: true
    tags:
      owner: platform
  register: successor

- name: Rotate to a key that already exists, moving only one alias
  kmsrotate.aws.kms_successor_key:
    source_key_id: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
    destination_key_id: alias/app-data-2025
    aliases:
      - alias/app-data
"""

RETURN = r"""
created:
  description: Whether the destination key was (or, in check mode, would be) created by this run.
  returned: always
  type: bool
destination_key_arn:
  description: ARN of the destination key; null in check mode when it would be created.
  returned: always
  type: str
  sample: arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321
destination_key:
  description: What DescribeKey says about the destination key, in snake_case; null when it would be created.
  returned: always
  type: dict
  contains:
    arn:
      description: Key ARN.
      type: str
    key_id:
      description: Key id.
      type: str
    region:
      description: Region of the key.
      type: str
    account:
      description: Account of the key.
      type: str
    state:
      description: Key state.
      type: str
    key_spec:
      description: Key spec.
      type: str
    key_usage:
      description: Key usage.
      type: str
    key_manager:
      description: CUSTOMER or AWS.
      type: str
    origin:
      description: Origin of the key material.
      type: str
    multi_region:
      description: Whether the key is multi-region.
      type: bool
    custom_key_store_id:
      description: Custom key store, if any.
      type: str
    description:
      description: Description of the key.
      type: str
source_key:
  description: What DescribeKey says about the source key, with the same fields as RV(destination_key).
  returned: always
  type: dict
source_reason:
  description: Why RV(source_key) is the source, in particular when O(source_key_id) is an alias an earlier run moved.
  returned: always
  type: str
  sample: "alias/app names arn:aws:kms:...:key/b, the successor of arn:aws:kms:...:key/a, which is Disabled: that
    rotation is finished, so arn:aws:kms:...:key/b is the key to rotate now."
rotation_started_at:
  description:
    - When the rotation began as AWS records it (UTC, ISO 8601) - the creation of the successor this module created,
      else the first move of an alias off the source key; null before either (the caller's own start time applies).
    - Uses of the source key after it by anyone but the rotation hold its retirement back (see
      M(kmsrotate.aws.kms_key_usage_info)).
  returned: always
  type: str
alias_history:
  description:
    - Every alias known to have pointed at the source key - now, or until this module moved it (its tag on the
      destination key).
    - Aliases whose name makes a tag key longer than 128 characters are not tagged; they appear only while they
      still point at the source key.
  returned: always
  type: list
  elements: dict
  contains:
    alias_name:
      description: The alias, C(alias/...).
      type: str
    until:
      description: When it stopped pointing at the source key (UTC, ISO 8601); null while it still does.
      type: str
aliases:
  description: Each alias this run points at the destination key.
  returned: always
  type: list
  elements: dict
  contains:
    alias_name:
      description: The alias, C(alias/...).
      type: str
    before:
      description: ARN of the key it pointed at before, or null when it did not exist.
      type: str
    after:
      description: ARN of the key it points at now.
      type: str
    changed:
      description: Whether this run moved or created it.
      type: bool
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.successor_key import SuccessorKey


def main():
    argument_spec = dict(
        source_key_id=dict(type="str", required=True),
        destination_key_id=dict(type="str"),
        create_key=dict(type="bool", default=False),
        description=dict(type="str"),
        tags=dict(type="dict"),
        policy=dict(type="json"),
        aliases=dict(type="list", elements="str"),
    )
    # Both destination_key_id and create_key=true is refused by the engine: the
    # role passes create_key=false explicitly, which mutually_exclusive would refuse.
    module = AnsibleAWSModule(argument_spec=argument_spec, required_if=[("create_key", False, ["destination_key_id"])],
                              supports_check_mode=True)
    run_module(module, SuccessorKey)


if __name__ == "__main__":
    main()
