# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The key's last cryptographic use, and for a rotation, whether anyone but the rotation used it since it started.

GetKeyLastUsage gives the last successful cryptographic operation, its time
and its CloudTrail event id, never the caller; CloudTrail (LookupEvents)
gives the callers. AWS states that last usage can lag by up to an hour and
names CloudTrail as the authority. With the rotation's start time the gate
reads, over [since, now]:

- last usage answers a use at or after the start: CloudTrail since the
  start. Each use by a caller that is not this run's own identity holds
  (blocking, naming principal, operation and time). CloudTrail unreadable,
  or not showing yet the event last usage reports (CloudTrail delivers
  events minutes late), makes that use unknown, which holds, saying when to
  look again.
- last usage answers a last use before the start (or none): that holds
  nothing. Because the answer may miss the last hour, CloudTrail is read
  over the part of the rotation within that hour, and a foreign use there
  holds; CloudTrail unreadable then holds nothing, and the result says that
  hour was not examined.
- last usage unavailable (an endpoint or SDK without the operation, or no
  kms:GetKeyLastUsage): it is recorded (`available: false`) and alone holds
  nothing; CloudTrail since the start is read if it can be, and its foreign
  uses hold.

The start was read on the clock of the host that ran the role: uses are
examined from CLOCK_SKEW before it. Whatever the gate reads, the last minutes
before it ran cannot be seen yet; that is why the retire phase disables the
key before it deletes it.
"""

import collections
import datetime
import itertools

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, UNKNOWN, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.alias_history import CLOCK_SKEW, moment_text
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import unreadable_reason
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import CLOUDTRAIL_DELAY, LAST_USAGE_DELAY
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import caller_principals, describe_event
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import foreign_uses, key_events
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import key_last_usage

# The service name of last-usage dependents (and of ignore_services).
LAST_USAGE = "last_usage"


def _used_at(usage):
    if not usage.get("used") or not usage.get("timestamp"):
        return None
    moment = datetime.datetime.fromisoformat(usage["timestamp"])
    return moment.astimezone(datetime.timezone.utc) if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _shows(events, usage, used_at):
    """Whether the events read include the use last usage reports (by its event id, else by operation and second)."""
    if usage.get("cloudtrail_event_id"):
        return any(event.event_id == usage["cloudtrail_event_id"] for event in events)
    return any(event.event_name == usage.get("operation")
               and abs(event.event_time - used_at) < datetime.timedelta(seconds=1) for event in events)


def _foreign_dependents(foreign, key_arn, started_at, since):
    """One blocking entry per caller and operation, with its latest use."""
    groups = collections.OrderedDict()
    for event in foreign:  # newest first: a group's first event is its latest
        groups.setdefault((event.principal, event.event_name), []).append(event)
    entries = []
    for (principal, _operation), events in groups.items():
        more = " and {0} earlier use(s)".format(len(events) - 1) if len(events) > 1 else ""
        reason = ("used the source key since {0} (the rotation started at {1}), and is not this rotation's own "
                  "caller: {2}{3}; find what it encrypts or decrypts and move it to the new key before retiring").format(
                      moment_text(since), moment_text(started_at), describe_event(events[0]), more)
        entries.append(dependent(principal or "an unknown caller", LAST_USAGE, BLOCKING, reason, key_arn=key_arn,
                                 count=len(events)))
    return entries


def _unknown(key_arn, reason):
    return dependent(key_arn, LAST_USAGE, UNKNOWN, reason, key_arn=key_arn)


def last_usage(clients, key_arn, started_at, limit, now):
    """(the result's last_usage, the dependents it makes): with started_at None, only GetKeyLastUsage's answer.

    limit: the most CloudTrail events examined; now: the time of the gate's run.
    """
    usage = key_last_usage(clients("kms"), key_arn)
    if started_at is None:
        return usage, []
    used_at = _used_at(usage)
    used_since_start = used_at is not None and used_at >= started_at - CLOCK_SKEW
    if usage["available"] and not used_since_start:
        # Last usage may lag by up to an hour: CloudTrail covers the part of the rotation it may not show yet.
        since = max(started_at - CLOCK_SKEW, now - LAST_USAGE_DELAY)
    else:
        since = started_at - CLOCK_SKEW
    usage.update(rotation_started_at=moment_text(started_at), examined_since=moment_text(since))
    try:
        own = caller_principals(clients("sts"))
        events = list(itertools.islice(key_events(clients("cloudtrail"), key_arn, since), limit + 1))
    except Exception as exc:  # any failure leaves the uses unexamined: an endpoint may lack LookupEvents; said below
        return _unread(usage, key_arn, used_at, used_since_start, unreadable_reason(exc))
    truncated = len(events) > limit
    events = events[:limit]
    foreign = foreign_uses(events, own)
    dependents = _foreign_dependents(foreign, key_arn, started_at, since)
    if truncated:
        dependents.append(_unknown(key_arn, (
            "more than {0} CloudTrail events name the source key since {1}: too many to examine in one run "
            "(retirement_scan_limit); look at its callers in CloudTrail before retiring").format(limit, moment_text(since))))
    elif used_since_start and not _shows(events, usage, used_at):
        dependents.append(_unknown(key_arn, (
            "GetKeyLastUsage reports {0} at {1}, after the rotation started, but CloudTrail does not show that event "
            "yet, so who used the key is not known: CloudTrail delivers events up to {2} minutes late; look again "
            "after {3}").format(usage["operation"], moment_text(used_at), int(CLOUDTRAIL_DELAY.total_seconds() // 60),
                                moment_text(used_at + CLOUDTRAIL_DELAY))))
    usage.update(cloudtrail_read=True, cloudtrail_events=len(events), foreign_uses=len(foreign),
                 finding=_finding(usage, foreign, dependents, since))
    return usage, dependents


def _finding(usage, foreign, dependents, since):
    if foreign:
        return "{0} use(s) of the key by other callers since {1}".format(len(foreign), moment_text(since))
    if dependents:
        return dependents[-1]["reason"]
    if not usage["available"]:
        return "GetKeyLastUsage is not available; CloudTrail shows no use by other callers since {0}".format(
            moment_text(since))
    return "no use of the key by other callers since {0}".format(moment_text(since))


def _unread(usage, key_arn, used_at, used_since_start, reason):
    usage.update(cloudtrail_read=False, cloudtrail_events=0, foreign_uses=0)
    if used_since_start:
        text = ("GetKeyLastUsage reports {0} at {1}, after the rotation started, and CloudTrail could not be read to "
                "say who: {2}; look again once CloudTrail can be read (cloudtrail:LookupEvents)").format(
                    usage["operation"], moment_text(used_at), reason)
        usage["finding"] = text
        return usage, [_unknown(key_arn, text)]
    if usage["available"]:
        usage["finding"] = ("last use before the rotation started; CloudTrail could not be read ({0}), so uses since "
                            "{1} that GetKeyLastUsage may not show yet (it can lag by an hour) were not examined").format(
                                reason, usage["examined_since"])
    else:
        usage["finding"] = ("neither GetKeyLastUsage nor CloudTrail could be read ({0}): uses of the key since the "
                            "rotation started were not examined").format(reason)
    return usage, []
