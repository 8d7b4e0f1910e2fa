# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Resolve KMS key references (id, ARN, alias name, alias ARN) to key facts.

Every comparison of keys in this collection goes through a KeyResolver, so a
key is always compared by its ARN and never by the string a user, an API or
an S3-compatible endpoint happened to use.
"""

import threading

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED, NOT_FOUND
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError, is_error


class KeyInfo(object):
    """What DescribeKey says about one key, in snake_case (as_dict), and its whole answer (metadata)."""

    _FIELDS = ("arn", "key_id", "region", "account", "state", "key_spec", "key_usage", "key_manager",
               "origin", "multi_region", "custom_key_store_id", "description")
    __slots__ = _FIELDS + ("metadata",)

    def __init__(self, metadata):
        # Kept whole so that readers of other fields (creation date, multi-Region role) need no second DescribeKey.
        self.metadata = metadata
        self.arn = metadata["Arn"]
        self.key_id = metadata["KeyId"]
        parsed = parse_aws_arn(self.arn)
        self.region = parsed["region"]
        self.account = parsed["account_id"]
        self.state = metadata.get("KeyState")
        self.key_spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
        self.key_usage = metadata.get("KeyUsage")
        self.key_manager = metadata.get("KeyManager")
        self.origin = metadata.get("Origin")
        self.multi_region = bool(metadata.get("MultiRegion"))
        self.custom_key_store_id = metadata.get("CustomKeyStoreId")
        self.description = metadata.get("Description", "")

    @property
    def enabled(self):
        return self.state == "Enabled"

    @property
    def symmetric_encryption(self):
        return self.key_spec == "SYMMETRIC_DEFAULT" and self.key_usage == "ENCRYPT_DECRYPT"

    def as_dict(self):
        return dict((name, getattr(self, name)) for name in self._FIELDS)


def is_key_arn(value):
    parsed = parse_aws_arn(value) if value.startswith("arn:") else None
    return bool(parsed) and parsed["service"] == "kms" and parsed["resource_type"] == "key"


class KeyResolver(object):
    """Caches DescribeKey answers by every reference seen; safe across threads."""

    def __init__(self, kms_client):
        self._kms = kms_client
        self._lock = threading.Lock()
        self._by_ref = {}

    def resolve(self, key_ref):
        """KeyInfo for any form of key reference, or a RotationError naming it."""
        if not key_ref:
            raise RotationError("An empty KMS key reference was given.", fix="name the key by id, ARN or alias.")
        with self._lock:
            cached = self._by_ref.get(key_ref)
        if cached is not None:
            return cached
        try:
            metadata = self._kms.describe_key(KeyId=key_ref, aws_retry=True)["KeyMetadata"]
        except ClientError as exc:
            if is_error(exc, NOT_FOUND):
                raise RotationError("KMS key not found.", resource=key_ref,
                                    fix="check the key id, ARN or alias and the region it lives in.")
            if is_error(exc, ACCESS_DENIED):
                raise RotationError("Access denied to DescribeKey.", resource=key_ref,
                                    fix="grant kms:DescribeKey on this key to the caller.")
            raise
        info = KeyInfo(metadata)
        with self._lock:
            self._by_ref[key_ref] = info
            self._by_ref.setdefault(info.arn, info)
        return info

    def arn(self, key_ref):
        return self.resolve(key_ref).arn

    def forget(self, key_ref):
        """Drop a cached answer (after the key's state was changed)."""
        with self._lock:
            info = self._by_ref.pop(key_ref, None)
            if info is not None:
                for ref in [ref for ref, cached in self._by_ref.items() if cached is info]:
                    del self._by_ref[ref]

    def resolve_all(self, key_refs):
        """ARNs of several references, for `source_key_ids` style filters."""
        return frozenset(self.arn(ref) for ref in key_refs or [])


def require_encryption_destination(info, purpose="destination"):
    """Refuse a key that cannot receive re-encrypted data."""
    if not info.enabled:
        raise RotationError("The {0} key is {1}, not Enabled.".format(purpose, info.state), resource=info.arn,
                            fix="enable it (aws kms enable-key) or name another key.")
    if not info.symmetric_encryption:
        raise RotationError(
            "The {0} key is {1}/{2}; re-encryption needs a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key.".format(
                purpose, info.key_spec, info.key_usage),
            resource=info.arn, fix="name a symmetric encryption key.")


class RekeyScope(object):
    """The key a job moves data to and the keys it moves data away from, compared by ARN."""

    __slots__ = ("destination", "sources")

    def __init__(self, destination, sources):
        self.destination = destination
        self.sources = sources

    def moves(self, key_arn):
        """Whether data under this key is to move: any key but the destination, or only the sources when named."""
        return key_arn != self.destination.arn and (not self.sources or key_arn in self.sources)


def resolve_rekey_keys(resolver, destination_key_id, source_key_ids):
    """The RekeyScope of a job that moves data between keys, refused before any change when it cannot work.

    An empty set of sources means every key but the destination.
    """
    destination = resolver.resolve(destination_key_id)
    require_encryption_destination(destination)
    sources = resolver.resolve_all(source_key_ids)
    if destination.arn in sources:
        raise RotationError("The destination key is also listed in source_key_ids: source and destination are the same key.",
                            resource=destination.arn,
                            fix="name the old key(s) in source_key_ids, the new one in destination_key_id.")
    return RekeyScope(destination, sources)
