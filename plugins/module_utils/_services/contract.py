# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What each service file of kms_service_rekey implements, and what it is handed.

A Handler deals with one resource (one ARN) of one service:

- read(): the resource as it is now, a Current (the key reference its service
  stores, and whatever else the other steps need); ResourceNotFound or a
  NOT_FOUND error when it does not exist;
- plan(current): None when this module can change the key in place, else a
  plan entry (what AWS requires instead) and no change is made;
- change(current): point the resource at the destination key, waiting until
  the service has done so;
- tags() / tag(tags): the resource's tags through its service's own API, for
  the markers (markers.py);
- residue(current, changed_at): what still needs the old key after a change
  made at changed_at (a Residue: needed until when, and dependents).

The engine (rekey.py) decides everything else: whether the resource is under
the source key, check mode, the markers, and the result entry.
"""

import collections

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.waits import wait_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER

# key_ref: the key as the service stores it (id, alias or ARN; None for the service's default).
Current = collections.namedtuple("Current", ("key_ref", "details"))
# needed_until: None, an ISO 8601 time or retention.NEVER; dependents: dicts of _common/dependents.py.
Residue = collections.namedtuple("Residue", ("needed_until", "dependents"))
NOTHING_LEFT = Residue(None, [])

# Seconds between two polls of a waiter.
POLL_DELAY = 2
_WAIT_FIX = ("raise wait_timeout if the service is only slow, then run the task again: a resource already under the "
             "destination key is left as it is.")


class ResourceNotFound(Exception):
    """A listing answered without the resource (services that have no "describe one" call)."""


class Job(object):
    """One resource's re-key: its ARN (parsed), the run's keys and clients, and the options a handler reads."""

    def __init__(self, arn, parsed, keys, clients, spec):
        self.arn = arn
        self.parsed = parsed
        self.keys = keys
        self.clients = clients
        self.spec = spec

    @property
    def name(self):
        """The resource's own name, as its service's calls take it."""
        return self.parsed["resource_id"]

    def client(self, service):
        return self.clients(service)

    def key_arn(self, key_ref, default=None):
        """The ARN of a stored key reference (or of `default`, the service's key when it names none).

        A reference KMS cannot resolve (deleted, another account's) is returned
        as it is: it is not the source key, which resolved at the start.
        """
        reference = key_ref or default
        if not reference:
            return None
        try:
            return self.keys.resolver.arn(reference)
        except RotationError:
            return reference


class Handler(object):
    """Base of every service's handler (see the module docstring)."""

    # The resource's service in kms_key_usage_info's names (dependents' `service`).
    SERVICE = None
    # The AWS managed key a resource that names no key is under, if any (alias name).
    DEFAULT_KEY = None

    def __init__(self, job):
        self.job = job

    def read(self):
        raise NotImplementedError

    def moves(self, current, key_arn):
        """Whether a resource under key_arn (its reference resolved) is to move to the destination."""
        return key_arn == self.job.keys.source.arn

    def plan(self, current):
        return None

    def change(self, current):
        raise NotImplementedError

    def tags(self):
        raise NotImplementedError

    def tag(self, tags):
        raise NotImplementedError

    def residue(self, current, changed_at):
        return NOTHING_LEFT

    def dependent(self, reason, kind=BLOCKING, resource=None, count=1, **details):
        """A dependent of the source key left by this resource (or a part of it, `resource`)."""
        return dependent(resource or self.job.arn, self.SERVICE, kind, reason, key_arn=self.job.keys.source.arn,
                         count=count, **details)

    def blocked(self, reason, count=1, **details):
        """A Residue that holds the old key until someone acts."""
        return Residue(NEVER, [self.dependent(reason, count=count, **details)])


def wait_for(client, waiter_name, timeout, resource, **kwargs):
    """A botocore waiter bounded by the module's wait_timeout (see _common/waits.py)."""
    wait_bounded(client, waiter_name, timeout, resource, _WAIT_FIX, POLL_DELAY, **kwargs)


def tag_list(tags):
    """{key: value} as the [{Key, Value}] lists most services take."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_dict(tags, key="Key", value="Value"):
    """A [{Key, Value}] list as {key: value}."""
    return dict((entry[key], entry[value]) for entry in tags or [])
