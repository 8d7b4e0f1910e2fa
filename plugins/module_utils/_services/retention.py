# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How long the old key is still needed after a change: "needed until" dates.

A value is None (not needed any more), an ISO 8601 UTC time (needed until
then, for data that ages out), or NEVER (needed until someone acts: data
that never ages out, or that this collection cannot move).
"""

import datetime

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import format_time

NEVER = "never"


def needed_until(changed_at, seconds):
    """The time data written up to changed_at has aged out, given a retention of `seconds`."""
    return format_time(changed_at + datetime.timedelta(seconds=seconds))


def days(count):
    return int(count) * 86400


def hours(count):
    return int(count) * 3600


def latest(values):
    """The latest of several values: NEVER beats every date, any date beats None."""
    present = [value for value in values if value is not None]
    if NEVER in present:
        return NEVER
    # The dates share one fixed format, so they sort as text.
    return max(present) if present else None
