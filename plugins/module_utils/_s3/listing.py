# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The listing s3_kms_recopy works through: every object version under a prefix, streamed.

ListObjectVersions (versions: all) or ListObjectsV2 (versions: current) is
read through _common.pagination a page at a time, so memory holds one page
however big the bucket is. Delete markers hold no data and are not listed.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items

# Entries per page (S3's largest) and per retried chunk of the listing.
PAGE_SIZE = 1000


class ListedVersion(object):
    """One entry of the listing: what is needed to head and move it."""

    __slots__ = ("key", "version_id", "is_latest", "etag", "checksum_algorithm")

    def __init__(self, key, version_id, is_latest, etag, checksum_algorithm=None):
        self.key = key
        self.version_id = version_id
        self.is_latest = is_latest
        self.etag = etag
        self.checksum_algorithm = checksum_algorithm


def list_versions(s3, bucket, prefix, versions):
    """Stream the listing as ListedVersion entries: every version (`all`) or the current ones (`current`)."""
    if versions == "all":
        for entry in items(s3, "list_object_versions", "Versions", page_size=PAGE_SIZE, Bucket=bucket, Prefix=prefix):
            yield ListedVersion(entry["Key"], entry.get("VersionId"), entry.get("IsLatest", True), entry.get("ETag"),
                                _checksum_algorithm(entry))
    else:
        for entry in items(s3, "list_objects_v2", "Contents", page_size=PAGE_SIZE, Bucket=bucket, Prefix=prefix):
            yield ListedVersion(entry["Key"], None, True, entry.get("ETag"), _checksum_algorithm(entry))


def _checksum_algorithm(entry):
    """The additional checksum algorithm a listing entry names, or None."""
    algorithms = entry.get("ChecksumAlgorithm") or [None]
    return algorithms[0]
