# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_successor_key: find or create the key that replaces a source key, and move aliases to it.

The successor is found again on every run by a tag naming the source key's
ARN, so an interrupted or repeated rotation never creates a second key.
Aliases move with UpdateAlias: an alias keeps its name and ARN, so the
applications that encrypt through it start using the successor at once,
before any stored data is moved.
"""

import json

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.arn import arn_region
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED, NOT_FOUND
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.aliases import AWS_ALIAS_PREFIX, alias_name, list_aliases
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, require_encryption_destination

SOURCE_KEY_TAG = "kmsrotate:source-key-arn"
# Keys in these states can never again be a rotation's destination.
_DEAD_STATES = ("PendingDeletion", "PendingReplicaDeletion")


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

    def _predecessor(self, key):
        """The source key ARN a successor was tagged with, or None for any other key."""
        tags = self._kms.list_resource_tags(KeyId=key.key_id, aws_retry=True).get("Tags", [])
        return next((tag["TagValue"] for tag in tags if tag.get("TagKey") == SOURCE_KEY_TAG), None)

    def _resolve_source(self, source_key_id):
        """The source key; an alias an earlier run already moved leads back to the key it replaced."""
        source = self._keys.resolve(source_key_id)
        if alias_name(source_key_id) == source_key_id or ":alias/" in source_key_id:
            predecessor = self._predecessor(source)
            if predecessor:
                return self._keys.resolve(predecessor)
        return source

    def run(self, spec, check_mode=False):
        self._kms = self.clients("kms")
        self._keys = KeyResolver(self._kms)
        source = self._resolve_source(spec.source_key_id)
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

        values = {
            "changed": created or any(change["changed"] for change in alias_changes),
            "created": created,
            "source_key": source.as_dict(),
            "destination_key": destination.as_dict() if destination else None,
            "destination_key_arn": destination.arn if destination else None,
            "aliases": alias_changes,
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
        key_tags = [{"TagKey": name, "TagValue": str(value)} for name, value in sorted((tags or {}).items())
                    if name != SOURCE_KEY_TAG]
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
                    self._kms.update_alias(AliasName=name, TargetKeyId=destination.key_id, aws_retry=True)
            before = {None: None, source.key_id: source.arn}.get(target, new_key)
            changes.append({"alias_name": name, "before": before, "after": new_key, "changed": changed})
        return changes

    @staticmethod
    def _diff(destination, created, alias_changes):
        aliases_before = dict((change["alias_name"], change["before"]) for change in alias_changes)
        aliases_after = dict((change["alias_name"], change["after"]) for change in alias_changes)
        after_key = destination.arn if destination else "(key to be created)"
        return {
            "before": {"destination_key": None if created else after_key, "aliases": aliases_before},
            "after": {"destination_key": after_key, "aliases": aliases_after},
        }
