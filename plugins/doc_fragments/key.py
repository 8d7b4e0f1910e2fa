# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one key a module reads or changes."""


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  key_id:
    description:
      - The key. A key id, key ARN, alias name (C(alias/...)) or alias ARN.
    type: str
    required: true
"""
