# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_successor_key: find or create the key that replaces a source key, and move aliases to it.

The successor is found again on every run by a tag naming the source key's
ARN, so an interrupted or repeated rotation never creates a second key.
Aliases move with UpdateAlias: an alias keeps its name and ARN, so the
applications that encrypt through it start using the successor at once,
before any stored data is moved.

Every alias moved is recorded on the successor as a tag (its name, and when
it stopped pointing at the source key), written before the move and again
after it: resources that name the key by that alias still hold data under
the source key, and the retirement gate needs to know, on every later run.
"""

import datetime
import json

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.arn import arn_region
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED, NOT_FOUND
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.aliases import AWS_ALIAS_PREFIX, alias_name, list_aliases
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, require_encryption_destination

SOURCE_KEY_TAG = "kmsrotate:source-key-arn"
# One tag per alias moved off the source key: kmsrotate:moved:<alias name> = when (UTC, ISO 8601).
ALIAS_HISTORY_TAG_PREFIX = "kmsrotate:moved:"
# KMS's longest tag key: an alias whose tag would be longer is recorded in the run's report only.
_MAX_TAG_KEY = 128
# Keys in these states can never again be a rotation's destination.
_DEAD_STATES = ("PendingDeletion", "PendingReplicaDeletion")
# A predecessor in these states is retired: the rotation that replaced it is finished.
_RETIRED_STATES = ("Disabled", "PendingDeletion")


class SuccessorKeySpec(Spec):
    """kms_successor_key's options. aliases None means every alias of the source key; [] means none."""

    FIELDS = {
        "source_key_id": None,
        "destination_key_id": None,
        "create_key": False,
        "description": None,
        "tags": None,
        "policy": None,
        "aliases": None,
    }


class SuccessorKey(Engine):
    """One source key, its successor (existing or to create) and the aliases to move."""

    SPEC = SuccessorKeySpec

    def __init__(self, clients, limit):
        super().__init__(clients, limit)
        # Set by run(), for the one run in progress (key answers are not kept from one run to the next).
        self._kms = None
        self._keys = None

    # Look-ups ---------------------------------------------------------------

    def _aliases(self):
        """{alias name: target key id} for every alias of the account in this region."""
        return dict((alias["AliasName"], alias.get("TargetKeyId")) for alias in list_aliases(self._kms))

    def _tagged_successors(self, source_arn):
        """Keys tagged as successors of source_arn that can still be used."""
        found = []
        for key in items(self._kms, "list_keys", "Keys"):
            try:
                tags = self._kms.list_resource_tags(KeyId=key["KeyId"], aws_retry=True).get("Tags", [])
            except ClientError as exc:
                if is_error(exc, ACCESS_DENIED, NOT_FOUND):
                    continue  # a key we may not read, or one deleted since the listing, is not ours
                raise
            if any(tag.get("TagKey") == SOURCE_KEY_TAG and tag.get("TagValue") == source_arn for tag in tags):
                info = self._keys.resolve(key["KeyArn"])
                if info.state not in _DEAD_STATES:
                    found.append(info)
        return found

    def _source_policy(self, source):
        """The policy a new successor starts with when none is given."""
        if source.key_manager != "CUSTOMER":
            # An AWS-managed key's policy trusts only its service and has no
            # administrator statement: as a customer key's policy it would
            # fail KMS's lockout safety check. KMS's default policy is right.
            return None
        return self._kms.get_key_policy(KeyId=source.key_id, PolicyName="default", aws_retry=True)["Policy"]

    # Checks -----------------------------------------------------------------

    def _check_destination(self, source, destination):
        if destination.arn == source.arn:
            raise RotationError("The source and destination are the same key.", resource=source.arn,
                                fix="name a different destination key, or set create_key to make one.")
        if destination.region != source.region:
            raise RotationError("The destination key is in {0}, the source key in {1}.".format(destination.region, source.region),
                                resource=destination.arn, fix="name a destination key in {0}.".format(source.region))
        require_encryption_destination(destination)

    def _resolve_destination(self, destination_key_id):
        region = arn_region(destination_key_id)
        here = self.clients.region
        if region and region != here:
            raise RotationError("The destination key is in {0}, not in {1} where the rotation runs.".format(region, here),
                                resource=destination_key_id, fix="name a destination key in {0}.".format(here))
        return self._keys.resolve(destination_key_id)

    # The work ---------------------------------------------------------------

    def _tags(self, key):
        return dict((tag["TagKey"], tag.get("TagValue")) for tag in
                    self._kms.list_resource_tags(KeyId=key.key_id, aws_retry=True).get("Tags", []))

    def _resolve_source(self, source_key_id):
        """(source key, why it is the source), telling a rotation in progress from a finished one.

        An alias an earlier run moved names that run's successor. While the
        key it replaced is still usable, that rotation is in progress and the
        old key stays the source. Once the old key is retired (Disabled or
        pending deletion), that rotation is finished: the alias's key is the
        one to rotate now.
        """
        named = self._keys.resolve(source_key_id)
        by_alias = alias_name(source_key_id) == source_key_id or ":alias/" in source_key_id
        predecessor_arn = self._tags(named).get(SOURCE_KEY_TAG) if by_alias else None
        if not predecessor_arn:
            return named, "{0} names {1}.".format(source_key_id, named.arn)
        predecessor = self._keys.resolve(predecessor_arn)
        if predecessor.state in _RETIRED_STATES:
            return named, ("{0} names {1}, the successor of {2}, which is {3}: that rotation is finished, "
                           "so {1} is the key to rotate now.").format(
                               source_key_id, named.arn, predecessor.arn, predecessor.state)
        return predecessor, ("{0} names {1}, the successor of {2}, which is still {3}: that rotation is in progress, "
                             "so {2} stays the source and {1} the destination.").format(
                                 source_key_id, named.arn, predecessor.arn, predecessor.state)

    def run(self, spec, check_mode=False):
        self._kms = self.clients("kms")
        self._keys = KeyResolver(self._kms)
        source, source_reason = self._resolve_source(spec.source_key_id)
        # Checked here, not with mutually_exclusive: the rotation role passes create_key=false
        # explicitly next to a destination_key_id, which mutually_exclusive would refuse.
        if spec.destination_key_id and spec.create_key:
            raise RotationError("Both a destination key and create_key were given.", resource=spec.destination_key_id,
                                fix="either name an existing destination key or set create_key: true, not both.")
        # Without create_key, the argument spec requires destination_key_id.
        if spec.destination_key_id:
            destination = self._resolve_destination(spec.destination_key_id)
        else:
            destination = self._find_successor(source)
        if destination is not None:
            self._check_destination(source, destination)

        # Aliases are checked before a key is created, so a refused alias leaves nothing behind.
        planned_aliases = self._planned_aliases(source, destination, spec.aliases, self._aliases())
        created = destination is None
        if created and not check_mode:
            destination = self._create(source, spec.description, spec.tags, spec.policy)
        alias_changes = self._move_aliases(source, destination, planned_aliases, check_mode)
        alias_history = self._alias_history(source, destination)

        values = {
            "changed": created or any(change["changed"] for change in alias_changes),
            "created": created,
            "source_key": source.as_dict(),
            "source_reason": source_reason,
            "destination_key": destination.as_dict() if destination else None,
            "destination_key_arn": destination.arn if destination else None,
            "aliases": alias_changes,
            "alias_history": alias_history,
            "rotation_started_at": _rotation_start(destination, spec.destination_key_id is None, alias_history),
        }
        return Result(values, diff=self._diff(destination, created, alias_changes))

    def _find_successor(self, source):
        successors = self._tagged_successors(source.arn)
        if len(successors) > 1:
            raise RotationError(
                "{0} keys are tagged {1}={2}: {3}.".format(len(successors), SOURCE_KEY_TAG, source.arn,
                                                           ", ".join(key.arn for key in successors)),
                resource=source.arn,
                fix="name the one to use as destination_key_id, or remove the tag from the others.")
        return successors[0] if successors else None

    def _create(self, source, description, tags, policy):
        # The rotation's own records are written by this module only.
        key_tags = [{"TagKey": name, "TagValue": str(value)} for name, value in sorted((tags or {}).items())
                    if name != SOURCE_KEY_TAG and not name.startswith(ALIAS_HISTORY_TAG_PREFIX)]
        key_tags.append({"TagKey": SOURCE_KEY_TAG, "TagValue": source.arn})
        request = {
            "Description": description or "Successor of {0} (kmsrotate.aws)".format(source.arn),
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "Tags": key_tags,
        }
        key_policy = policy if policy is not None else self._source_policy(source)
        if key_policy is not None:
            request["Policy"] = key_policy if isinstance(key_policy, str) else json.dumps(key_policy)
        metadata = self._kms.create_key(aws_retry=True, **request)["KeyMetadata"]
        return self._keys.resolve(metadata["Arn"])

    def _planned_aliases(self, source, destination, aliases, current):
        """(name, target key id now) for every alias this run must point at the destination."""
        if aliases is None:
            names = sorted(name for name, target in current.items()
                           if target == source.key_id and not name.startswith(AWS_ALIAS_PREFIX))
        else:
            names = [alias_name(name) for name in aliases]
        planned = []
        for name in names:
            if name.startswith(AWS_ALIAS_PREFIX):
                raise RotationError("AWS-managed aliases cannot be moved.", resource=name,
                                    fix="remove it from the aliases to move.")
            target = current.get(name)
            allowed = (None, source.key_id) + ((destination.key_id,) if destination else ())
            if target not in allowed:
                raise RotationError("The alias points at key {0}, neither the source nor the destination.".format(target),
                                    resource=name, fix="remove it from the aliases to move, or point it at the source key first.")
            planned.append((name, target))
        return planned

    def _move_aliases(self, source, destination, planned_aliases, check_mode):
        new_key = destination.arn if destination else "(key to be created)"
        changes = []
        for name, target in planned_aliases:
            changed = destination is None or target != destination.key_id
            if changed and not check_mode:
                if target is None:
                    self._kms.create_alias(AliasName=name, TargetKeyId=destination.key_id, aws_retry=True)
                else:
                    # Recorded before the move (a crash right after it must not lose the record), then
                    # again with the time after it: until then, data written through it went under the source.
                    self._record_alias_move(destination, name)
                    self._kms.update_alias(AliasName=name, TargetKeyId=destination.key_id, aws_retry=True)
                    self._record_alias_move(destination, name)
            before = {None: None, source.key_id: source.arn}.get(target, new_key)
            changes.append({"alias_name": name, "before": before, "after": new_key, "changed": changed})
        return changes

    def _record_alias_move(self, destination, name):
        tag_key = ALIAS_HISTORY_TAG_PREFIX + name
        if len(tag_key) <= _MAX_TAG_KEY:
            self._kms.tag_resource(KeyId=destination.key_id, aws_retry=True, Tags=[
                {"TagKey": tag_key, "TagValue": _utc_now()}])

    def _alias_history(self, source, destination):
        """Every alias known to have pointed at the source key: {alias_name, until} (until None: it still does)."""
        history = dict((name, None) for name, target in self._aliases().items() if target == source.key_id)
        if destination is not None:
            for tag_key, when in self._tags(destination).items():
                if tag_key.startswith(ALIAS_HISTORY_TAG_PREFIX):
                    history.setdefault(tag_key[len(ALIAS_HISTORY_TAG_PREFIX):], when)
        return [{"alias_name": name, "until": until} for name, until in sorted(history.items())]

    @staticmethod
    def _diff(destination, created, alias_changes):
        aliases_before = dict((change["alias_name"], change["before"]) for change in alias_changes)
        aliases_after = dict((change["alias_name"], change["after"]) for change in alias_changes)
        after_key = destination.arn if destination else "(key to be created)"
        return {
            "before": {"destination_key": None if created else after_key, "aliases": aliases_before},
            "after": {"destination_key": after_key, "aliases": aliases_after},
        }


def _rotation_start(destination, is_successor, alias_history):
    """When the rotation began, as far as AWS records it: its successor's creation, else its first alias move.

    None when neither exists yet (nothing has moved): the run's own start is then the rotation's.
    """
    moments = [entry["until"] for entry in alias_history if entry["until"]]
    if destination is not None and is_successor:
        moments.append(_utc(destination.metadata["CreationDate"]))
    return min(moments) if moments else None


def _utc(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_now():
    return _utc(datetime.datetime.now(datetime.timezone.utc))
