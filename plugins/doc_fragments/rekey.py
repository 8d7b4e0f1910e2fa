# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The key options of every module that moves data from one KMS key to another."""


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  destination_key_id:
    description:
      - The KMS key to move the data to. A key id, key ARN, alias name (C(alias/...)) or alias ARN.
      - It is resolved once to its key ARN with C(DescribeKey), and must be C(Enabled), C(SYMMETRIC_DEFAULT) and
        C(ENCRYPT_DECRYPT).
    type: str
    required: true
  source_key_ids:
    description:
      - Only data currently under one of these keys (any form of reference) moves. Data under any other key is
        reported as C(skipped) and left alone.
      - When empty, everything under any key but the destination moves.
      - Naming the destination key here is an error.
    type: list
    elements: str
    default: []
"""
