# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Data-key files for kms_key_usage_info: blob files under the key, among the paths given.

KMS tells a blob's key only through ReEncrypt (or Decrypt, which would bring
plaintext to the host), so this runs kms_data_key_rewrap's engine in check
mode with the key itself as destination: it changes nothing and reports each
blob's source key.

The engine's rules for files hold here too: a file that cannot be a blob
(larger than a ciphertext can be, text, empty) is never sent to KMS and is
under no key, so it neither is found nor makes the search unknown; the
module's backups and temporary files never match a glob; a hard-linked file is
found like any other (the engine leaves it alone only when it would write it).
Only files that could not be read or whose key KMS would not tell are reasons.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.data_key_rewrap import FAILED, DataKeyRewrap, RewrapSpec

DATA_KEY_FILE = "data_key_file"

# Files that could not be read named in the reason, at most.
_FAILURES_NAMED = 5


def files_under_key(clients, limit, key_arn, paths):
    """(Found for each file under the key, why some files could not be read or None).

    Raises RotationError when the paths cannot be searched at all (a glob matching nothing, a disabled key).
    """
    results = DataKeyRewrap(clients, limit).run(RewrapSpec(destination_key_id=key_arn, paths=paths),
                                                check_mode=True).values["results"]
    found = [Found(DATA_KEY_FILE, item["path"], None, item["source_key_arn"], {})
             for item in results if item.get("source_key_arn") == key_arn]
    failed = [item for item in results if item["action"] == FAILED]
    if not failed:
        return found, None
    return found, "{0} file(s) could not be read: {1}".format(
        len(failed), "; ".join("{0}: {1}".format(item["path"], item["reason"]) for item in failed[:_FAILURES_NAMED]))
