# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the finders of kms_key_usage_info share: the record they yield and the region they search.

A finder is a generator `finder(ctx) -> Found...` for one service in one
region. It lists with cheap describe calls and yields every resource with the
key reference the service stores; the engine (usage.py) matches that
reference against the key and decides what is movable.
"""

import collections

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items

# One resource a finder saw: key_ref is the key as the service stores it (id, alias or ARN);
# details are the resource_type's own result fields.
Found = collections.namedtuple("Found", ("resource_type", "id", "arn", "key_ref", "details"))


class RegionContext(object):
    """One region's search: its clients, the key's ARN there, the engine's one limit, listings read once."""

    def __init__(self, clients, region, key_arn, limit):
        self.clients = clients
        self.region = region
        # The key as this region knows it (a multi-Region key's replica has its primary's id).
        self.key_arn = key_arn
        self.limit = limit
        self._snapshots = None

    def client(self, service):
        return self.clients(service, self.region)

    def snapshots(self):
        """The caller's own snapshots of the region, listed once for the snapshot and AMI finders."""
        if self._snapshots is None:
            self._snapshots = list(items(self.client("ec2"), "describe_snapshots", "Snapshots", OwnerIds=["self"]))
        return self._snapshots

    def read_each(self, listed, read, codes=()):
        """read(item) for every listed item through the engine's pool, streamed, yielding what it returns.

        An item deleted since it was listed (NOT_FOUND, or an error code in
        `codes`) is skipped, as is a None answer; any other error stops the
        finder, which makes its service unknown.
        """
        def present(item):
            try:
                return read(item)
            except ClientError as exc:
                if is_error(exc, NOT_FOUND, codes=codes):
                    return None
                raise

        for _item, result, error in run_bounded(listed, present, self.limit):
            if error is not None:
                raise error
            if result is not None:
                yield result
