# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The bounded, adaptive pool every bulk module runs its requests in."""


class ModuleDocFragment(object):
    # Each module sets its own default (and may say what one unit of work is).
    DOCUMENTATION = r"""
options:
  concurrency:
    description:
      - Maximum requests in flight, at least 1. The module halves it while AWS throttles and grows it back by one
        after a run of clean successes, so a throttled run slows down instead of failing.
    type: int
"""
