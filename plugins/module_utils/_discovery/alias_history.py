# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a key reference stored by a service means for the source key, given the aliases that pointed at it.

A service that was given `alias/app` stores that string and encrypts each new
item under the key the alias names at that moment. Once a rotation moves the
alias, the string names the new key, but everything written before the move
is still under the source key. So a reference is matched three ways:
- DIRECT: the key's id or ARN, or an alias that names the key now;
- through an alias of the rotation's alias history (recorded by the role
  before anything moved), which pointed at the key until a given time;
- not at all.

The history is recorded in the key's own region, so it applies there only:
an alias of the same name in another region is another alias.

The times of the history and of the rotation's start come from the clock of
the host that ran the role, and are compared with times AWS records. AWS
refuses a signed request whose time is more than five minutes off its own,
so that clock is within CLOCK_SKEW of AWS's; every comparison is widened by
it, toward holding the key.
"""

import collections
import datetime

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError

# How a resource names the key: alias None for DIRECT; else the alias of the
# history and the time it stopped pointing at the key (None: it still does).
Reference = collections.namedtuple("Reference", ("alias", "until"))
DIRECT = Reference(None, None)
# How far the clock that recorded a rotation's times may be from AWS's (SigV4 refuses requests further off).
CLOCK_SKEW = datetime.timedelta(minutes=5)

_HISTORY_FIELDS = frozenset(["alias_name", "until"])


def utc_time(value, option):
    """An ISO 8601 time with a time zone, as an aware UTC datetime; a RotationError naming the option otherwise."""
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RotationError("{0} is {1!r}, not an ISO 8601 time.".format(option, value),
                            fix="give it as in 2026-12-01T10:00:00Z.")
    if moment.tzinfo is None:
        # A time without a zone could be anyone's local time: hours of uses would fall outside the window.
        raise RotationError("{0} is {1!r}, a time without a time zone.".format(option, value),
                            fix="give it in UTC, as in 2026-12-01T10:00:00Z.")
    return moment.astimezone(datetime.timezone.utc)


def moment_text(moment):
    """A time as results and reasons show it: 2026-12-01T10:00:00Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(reference):
    """How a dependent's reason says a resource names the key through an alias of the history."""
    if reference.until is None:
        return "references {0}, which points at the source key".format(reference.alias)
    return "references {0}, which pointed at the source key until {1}".format(reference.alias,
                                                                              moment_text(reference.until))


class AliasHistory(object):
    """The kms_key_usage_info option alias_history: every alias that pointed at the source key, and until when."""

    def __init__(self, entries=(), region=None, account=None):
        self.region = region
        self._account = account
        self._until = {}
        for entry in entries:
            unknown = sorted(set(entry) - _HISTORY_FIELDS)
            name = entry.get("alias_name")
            if unknown or not isinstance(name, str) or not name.startswith("alias/"):
                raise RotationError("alias_history entry {0!r} is not {{alias_name: alias/<name>, until: <time or null>}}."
                                    .format(entry), fix="give each alias as alias_name, and until as an ISO 8601 "
                                    "UTC time (null while it still points at the source key).")
            until = entry.get("until")
            self._until[name] = None if until is None else utc_time(until, "alias_history until of " + name)

    def reference(self, key_ref):
        """The Reference of an alias name or alias ARN of the history, or None."""
        name = key_ref
        if key_ref.startswith("arn:"):
            parsed = parse_aws_arn(key_ref)
            if not parsed or parsed["service"] != "kms" or parsed["resource_type"] != "alias":
                return None
            if parsed["region"] != self.region or parsed["account_id"] != self._account:
                return None
            name = parsed["resource"]
        if name not in self._until:
            return None
        return Reference(name, self._until[name])

    def in_region(self, region):
        """The history as a region's search uses it: empty outside the key's own region."""
        return self if region == self.region else AliasHistory()
