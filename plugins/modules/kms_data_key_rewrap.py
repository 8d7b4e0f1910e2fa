#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: kms_data_key_rewrap
short_description: Re-wrap stored KMS data keys under a new KMS key with kms:ReEncrypt
version_added: 0.1.0
description:
  - Re-encrypts envelope-encrypted data keys (KMS ciphertext blobs that applications store in files, or passed
    inline) under O(destination_key_id) with C(kms:ReEncrypt), so the plaintext key never leaves KMS. The module
    never calls C(Decrypt) or C(GenerateDataKey).
  - One task handles thousands of blobs with a bounded pool of concurrent KMS requests. Throttling is retried with
    jittered backoff, and the pool shrinks while KMS throttles and grows back after.
  - Idempotent. A blob already under the destination key is left byte for byte as it is, so a second run reports
    no change.
  - Each blob costs exactly one C(ReEncrypt) request, in check mode too. C(ReEncrypt) changes nothing in AWS, and it
    is the only way to learn which key a blob is under without decrypting it. Check mode and diff therefore report
    the real source key of every blob.
  - Files are replaced atomically (a temporary file in the same directory, fsync, rename), keeping mode and
    ownership. A failure never leaves a half-written or empty file. A file that changes while it is being re-wrapped
    is reported as failed and left alone.
  - The task fails when any blob failed, after finishing all the others. The result then still lists what
    succeeded.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  paths:
    description:
      - Files or glob patterns (C(**) matches directories recursively). Each file holds one blob.
      - A plain path that does not exist, or a pattern that matches no file, fails the task before anything changes.
      - Symbolic links are followed, and the file they point to is replaced.
      - At least one of O(paths) and O(ciphertext_blobs) is required.
    type: list
    elements: path
  format:
    description:
      - How blobs are stored in the files.
      - V(auto) reads a file whose whole content (less trailing white space) is valid base64 text as V(base64), and
        anything else as V(binary). A binary KMS blob is never valid base64 text.
      - A file is always written back in the format it was read in, keeping a base64 file's trailing newline.
    type: str
    choices: [auto, base64, binary]
    default: auto
  ciphertext_blobs:
    description:
      - Inline blobs as base64 strings, as KMS returns C(CiphertextBlob).
      - The result's RV(ciphertext_blobs) returns them in the same order, re-wrapped where they were re-wrapped.
      - At least one of O(paths) and O(ciphertext_blobs) is required.
    type: list
    elements: str
  encryption_context:
    description:
      - The encryption context the blobs were encrypted with. It is needed to decrypt them inside KMS.
    type: dict
    default: {}
  destination_encryption_context:
    description:
      - The encryption context to re-wrap under. Defaults to O(encryption_context).
    type: dict
  backup:
    description:
      - Keep the previous content of each replaced file beside it, as C(<file>.<UTC timestamp>.bak) with mode 0600.
    type: bool
    default: false
  concurrency:
    default: 16
notes:
  - Permissions needed are C(kms:DescribeKey) on the destination, C(kms:ReEncryptFrom) on each source key and
    C(kms:ReEncryptTo) on the destination.
  - A blob that is already under the destination key is not re-wrapped to change its encryption context.
  - Supports check mode and diff mode. The diff shows, per file, the key ARN before and after.
extends_documentation_fragment:
  - kmsrotate.aws.rekey
  - kmsrotate.aws.concurrency
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Re-wrap every data key file of an application under the new key
  kmsrotate.aws.kms_data_key_rewrap:
    destination_key_id: alias/my-key
    paths:
      - /etc/myapp/keys/*.key
      - /srv/myapp/data/**/*.dk
    backup: true

- name: Only move blobs that are under the old key; leave others alone
  kmsrotate.aws.kms_data_key_rewrap:
    destination_key_id: arn:aws:kms:us-east-1:111122223333:key/9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
    source_key_ids:
      - ee740549-6491-47b0-810d-1365b9b52792
    paths:
      - /etc/myapp/keys/
    format: binary

- name: Re-wrap inline blobs kept in a variable, with an encryption context
  kmsrotate.aws.kms_data_key_rewrap:
    destination_key_id: alias/my-key
    ciphertext_blobs: "{{ stored_data_keys }}"
    encryption_context:
      app: billing
  register: rewrapped

- name: Store the re-wrapped blobs
  ansible.builtin.set_fact:
    stored_data_keys: "{{ rewrapped.ciphertext_blobs }}"

- name: See what would change, per file, without writing anything
  kmsrotate.aws.kms_data_key_rewrap:
    destination_key_id: alias/my-key
    paths: /etc/myapp/keys/*.key
  check_mode: true
  diff: true
"""

RETURN = r"""
counts:
  description: Blobs per outcome. C(failed) is here only, since Ansible reserves a top-level C(failed).
  returned: always
  type: dict
  contains:
    rewrapped:
      description: Blobs re-wrapped under the destination key (or that would be, in check mode).
      type: int
    unchanged:
      description: Blobs already under the destination key, left as they were.
      type: int
    skipped:
      description: Blobs under a key outside O(source_key_ids), left as they were.
      type: int
    failed:
      description: Blobs that could not be re-wrapped. See RV(failures).
      type: int
  sample: {"rewrapped": 120, "unchanged": 3, "skipped": 0, "failed": 0}
rewrapped:
  description: Same as RV(counts.rewrapped).
  returned: always
  type: int
  sample: 120
unchanged:
  description: Same as RV(counts.unchanged).
  returned: always
  type: int
  sample: 3
skipped:
  description: Same as RV(counts.skipped).
  returned: always
  type: int
  sample: 0
results:
  description: One entry per blob, files in the order they were named and expanded, after inline blobs.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file, for a blob read from a file.
      type: str
    index:
      description: The position in O(ciphertext_blobs), for an inline blob.
      type: int
    format:
      description: The format the file was read and written in.
      type: str
      sample: base64
    action:
      description: C(rewrapped), C(unchanged), C(skipped) or C(failed).
      type: str
    changed:
      description: Whether this blob was (or, in check mode, would be) re-wrapped.
      type: bool
    source_key_arn:
      description: The key the blob was under.
      type: str
    destination_key_arn:
      description: The key the blob is under after the task.
      type: str
    reason:
      description: Why it was skipped or failed.
      type: str
    backup_file:
      description: The backup of the previous content, with O(backup=true).
      type: str
  sample:
    - path: /etc/myapp/keys/orders.key
      format: base64
      action: rewrapped
      changed: true
      source_key_arn: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
      destination_key_arn: arn:aws:kms:us-east-1:111122223333:key/9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
failures:
  description: The blobs that failed, with the reason for each.
  returned: always
  type: list
  elements: dict
  sample:
    - path: /etc/myapp/keys/legacy.key
      reason: "the blob's key is disabled; enable it to re-wrap this blob (DisabledException: ...)"
dependents:
  description:
    - What still depends on a source key after this task, in the vocabulary every data-moving module of this
      collection returns (see M(kmsrotate.aws.kms_key_usage_info)).
    - In check mode, each blob a run would re-wrap is C(to_move). In both modes, each blob that failed is C(unknown)
      (its key could not be learnt, or it could not be written). Blobs left as they were (C(unchanged),
      C(skipped)) and, in a real run, blobs re-wrapped are not listed.
  returned: always
  type: list
  elements: dict
  contains:
    resource:
      description: The file, or C(ciphertext_blobs[<index>]) for an inline blob.
      type: str
    service:
      description: C(data_key_files) for a file, C(ciphertext_blobs) for an inline blob.
      type: str
    kind:
      description: C(to_move) or C(unknown).
      type: str
    reason:
      description: Why it still depends on the key, or why it failed.
      type: str
    key_arn:
      description: The key the blob is under (C(to_move)); null when it is not known (C(unknown)).
      type: str
    count:
      description: How many blobs the entry stands for, always 1.
      type: int
  sample:
    - resource: /etc/myapp/keys/orders.key
      service: data_key_files
      kind: to_move
      reason: still under this key; a run re-wraps it
      key_arn: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
      count: 1
ciphertext_blobs:
  description: The inline blobs in the order given, re-wrapped where they were re-wrapped (unchanged in check mode).
  returned: when O(ciphertext_blobs) was given
  type: list
  elements: str
destination_key_arn:
  description: The resolved destination key ARN.
  returned: always
  type: str
  sample: arn:aws:kms:us-east-1:111122223333:key/9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
destination_key_id:
  description: The resolved destination key id.
  returned: always
  type: str
  sample: 9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
throttling:
  description: How KMS throttling affected the run.
  returned: always
  type: dict
  contains:
    throttle_events:
      description: Throttled KMS requests, each retried.
      type: int
    concurrency:
      description: The configured O(concurrency).
      type: int
    lowest_concurrency:
      description: The lowest concurrency the module fell back to while throttled.
      type: int
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.blob_files import FORMATS
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.data_key_rewrap import DataKeyRewrap


def main():
    argument_spec = dict(
        destination_key_id=dict(type="str", required=True),
        source_key_ids=dict(type="list", elements="str", default=[], no_log=False),
        paths=dict(type="list", elements="path"),
        format=dict(type="str", choices=list(FORMATS), default="auto"),
        ciphertext_blobs=dict(type="list", elements="str"),
        encryption_context=dict(type="dict", default={}),
        destination_encryption_context=dict(type="dict"),
        backup=dict(type="bool", default=False),
        concurrency=dict(type="int", default=16),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, required_one_of=[("paths", "ciphertext_blobs")],
                              supports_check_mode=True)
    run_module(module, DataKeyRewrap)


if __name__ == "__main__":
    main()
