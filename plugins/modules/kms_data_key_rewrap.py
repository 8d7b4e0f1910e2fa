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
  - Each blob costs one C(ReEncrypt) request (rarely more, see below), in check mode too. C(ReEncrypt) changes
    nothing in AWS, and it is the only way to learn which key a blob is under without decrypting it. Check mode
    and diff therefore report the real source key of every blob.
  - Files are replaced atomically (a temporary file in the same directory, fsync, rename, then one fsync of the
    directory), keeping mode, ownership and extended attributes (SELinux label, POSIX ACLs, C(user.*) attributes).
    A failure never leaves a half-written or empty file.
  - Immediately before the rename, the file is compared with what was read (inode, size, modification time, number
    of links, content). A file that an application rewrote meanwhile is reported as failed and left alone with the
    application's blob; a second run re-wraps that one.
  - A file that has extended attributes the module cannot set on the new file (C(security.*) and C(trusted.*) need
    root) is reported as failed and left alone, as is one whose owner the module cannot keep. Where the filesystem or
    the OS has no extended attributes, the result says so (RV(results[].extended_attributes)) and the file is
    replaced.
  - Before any request, each file is checked for the shape of a KMS ciphertext blob. A file larger than a blob can
    be (6,144 bytes, 8,192 as base64; files over 16,384 bytes are not even read), a blob shorter than 29 bytes (KMS
    encrypts with AES-GCM, whose IV and tag alone take 28), an empty file, and a text file that is not base64 (a
    plaintext configuration file matched by a wide glob) are reported as C(not_a_blob) and never sent to KMS. The
    header of AWS's blobs is not required, as AWS does not document it and emulators lay blobs out differently.
  - ReEncrypt names C(SourceKeyId) whenever the blob's key is known, as AWS recommends. The key named is the one the
    previous blob was under, else the only key in O(source_key_ids). A blob whose key is unknown (the first one, or
    when several keys are in play) is sent without it, and KMS's answer tells its key. An endpoint that answers a
    ReEncrypt without C(SourceKeyId) with HTTP 500 (LocalStack) is asked that way once per task, never retried, and
    each blob is then tried under the keys the task knows (O(source_key_ids), the destination, keys learnt). A blob
    under none of them fails with a reason that says to name its key in O(source_key_ids). On AWS a task costs one
    ReEncrypt per blob, plus one each time the key changes from one blob to the next.
  - The task fails when any blob failed, after finishing all the others. The result then still lists what
    succeeded.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  paths:
    description:
      - Files or glob patterns (C(**) matches directories recursively). Each file holds one blob, or is a sops file (see O(format)).
      - A plain path that does not exist, or a pattern that matches no file, fails the task before anything changes.
      - Symbolic links are followed, and the file they point to is replaced.
      - A glob never matches the module's own files, so a later run with a wide glob never re-wraps them. These are
        backups (C(*.kmsrotate.bak), and C(<file>.<UTC timestamp>.bak) as earlier versions named them) and temporary
        files (C(.*.kmsrotate.tmp)). A file named by a plain path is always processed.
      - At least one of O(paths) and O(ciphertext_blobs) is required.
    type: list
    elements: path
  format:
    description:
      - How blobs are stored in the files.
      - V(auto) reads a file whose whole content (less surrounding white space, line breaks ignored) is valid
        base64 text as V(base64), text with a top-level C(sops) key as V(sops), and anything else as V(binary). A
        binary KMS blob is never valid base64 text, and a sops file never is either.
      - V(sops) reads sops-encrypted YAML and JSON files (as the Go sops 3.x and the Python sops 1.x write them). Each
        AWS KMS entry of the file's metadata (C(sops.kms[]), and C(sops.key_groups[].kms[])) whose key is a source
        key is re-wrapped with C(ReEncrypt) under its own encryption context (the entry's C(context), as both source
        and destination context; O(encryption_context) does not apply), and its C(enc) and C(arn) are replaced in the
        text. Every other byte of the file (values, comments, quoting, indentation, line endings, C(lastmodified),
        C(mac)) stays as it was, since the data key itself does not change and the MAC does not cover the master-key
        entries. C(sops -d) then works with the old key disabled. C(created_at) is kept, as it dates the data key.
      - Entries under other keys, and PGP, age, GCP, Azure and Vault entries, are left alone. An entry in another
        region, or in another account unless its key ARN is in O(source_key_ids), is left alone without a request
        (C(skipped), with the reason). A sops file is one result (RV(results[].sops_entries) lists its entries) and
        is written once. It may be larger than a blob, up to 16 MiB. YAML sops files need PyYAML on the host the
        module runs on; multi-document YAML is not supported.
      - Base64 text may be on one line or wrapped at any width (76 columns as the C(base64) command writes it), with
        LF or CRLF line endings.
      - A file is always written back in the layout it was read in (V(binary), or base64 with the same line width,
        line ending and surrounding white space, such as the trailing newline).
    type: str
    choices: [auto, base64, binary, sops]
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
      - Keep the previous content of each replaced file beside it, as C(<file>.<UTC timestamp>.kmsrotate.bak) with
        mode 0600 (the content that was read and re-wrapped, fsynced before the file is replaced).
      - Backups never match a glob of O(paths) on later runs. Each is returned in RV(dependents) as C(retained). It
        is under the old key, kept on purpose, and does not hold the old key's retirement back.
    type: bool
    default: false
  hard_links:
    description:
      - What to do with a file that has several hard links (its inode has more than one name) and needs re-wrapping.
      - V(skip) leaves it alone and reports it as C(skipped), and in RV(dependents) as C(to_move) under its key. A
        rename would give this name a new inode and leave the other names with the old blob.
      - V(rewrite_in_place) overwrites the file's own inode, so every name sees the new blob, and inode, owner, mode
        and extended attributes stay as they are. This is not atomic. The new content is first written and fsynced to
        a temporary file beside it (C(.<name>.*.kmsrotate.tmp)). Then the file is checked unchanged, overwritten in
        one write of a few KB, truncated and fsynced, and the temporary file is removed. An application reading the
        file during that write can read a mix of both blobs, and a crash during it can leave the file torn. Its new
        content is then in the temporary file (and its old content in the backup, with
        O(backup=true)), and a torn blob fails the next run, so it is never taken for one that moved.
    type: str
    choices: [skip, rewrite_in_place]
    default: skip
  concurrency:
    default: 16
notes:
  - Permissions needed are C(kms:DescribeKey) on the destination, C(kms:ReEncryptFrom) on each source key and
    C(kms:ReEncryptTo) on the destination.
  - A blob that is already under the destination key is not re-wrapped to change its encryption context.
  - A file reported as C(not_a_blob) is not in RV(dependents), since nothing KMS could read is under any key; the
    module cannot tell which key, if any, a file holds when it cannot be a blob.
  - Supports check mode and diff mode. The diff shows, per file, the key ARN before and after. For a sops file it shows
    the C(arn) of each entry that moves (C(sops.kms[0].arn), ...), not its C(enc), which is ciphertext, not secret,
    but long and says nothing more.
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

- name: Re-wrap wrapped base64 files, rewriting hard-linked ones in place so every name sees the new blob
  kmsrotate.aws.kms_data_key_rewrap:
    destination_key_id: alias/my-key
    source_key_ids: [ee740549-6491-47b0-810d-1365b9b52792]
    paths: /srv/shared/keys/*
    hard_links: rewrite_in_place
    backup: true

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

- name: Re-wrap the AWS KMS entries of sops-encrypted YAML and JSON files, so sops -d works once the old key is disabled
  kmsrotate.aws.kms_data_key_rewrap:
    destination_key_id: alias/my-key
    source_key_ids: [ee740549-6491-47b0-810d-1365b9b52792]
    paths: /srv/deploy/secrets/**/*.enc.yaml
    format: sops
    backup: true

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
    not_a_blob:
      description: Files that cannot be a KMS ciphertext blob, never sent to KMS and left as they are.
      type: int
  sample: {"rewrapped": 120, "unchanged": 3, "skipped": 0, "failed": 0, "not_a_blob": 0}
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
  description:
    - One entry per blob, files in the order they were named and expanded, after inline blobs.
    - A sops file is one entry, with its KMS entries in RV(results[].sops_entries).
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
    layout:
      description:
        - How the file holds its blob, C(binary), C(base64) (one line) or C(base64 wrapped at <width> (LF|CRLF)).
      type: str
      sample: base64 wrapped at 76 (LF)
    action:
      description:
        - C(rewrapped), C(unchanged), C(skipped) (under a key outside O(source_key_ids), or hard-linked with
          O(hard_links=skip)), C(failed), or C(not_a_blob) (see RV(counts.not_a_blob)).
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
      description: Why it was skipped, failed or is not a blob.
      type: str
    backup_file:
      description: The backup of the previous content, with O(backup=true).
      type: str
    in_place:
      description: True for a hard-linked file rewritten in place (O(hard_links=rewrite_in_place)).
      type: bool
    sops_entries:
      description:
        - For a sops file, one entry per AWS KMS entry of its metadata. The file's RV(results[].action) is C(failed)
          when any entry failed (the entries that moved are still written), else C(rewrapped) when any moved, else
          C(unchanged) when any is under the destination, else C(skipped).
      type: list
      elements: dict
      contains:
        entry:
          description: Where the entry is in the file.
          type: str
          sample: sops.kms[0]
        arn:
          description: The C(arn) the entry had before the task.
          type: str
        action:
          description: C(rewrapped), C(unchanged), C(skipped) or C(failed).
          type: str
        source_key_arn:
          description: The key its C(enc) was under, as C(ReEncrypt) tells it (absent when no request was made).
          type: str
        destination_key_arn:
          description: The key it is under after the task.
          type: str
        reason:
          description: Why it was skipped or failed.
          type: str
    extended_attributes:
      description: For a file replaced by a rename, the extended attributes given to the new file.
      type: dict
      contains:
        supported:
          description: False where the filesystem or the OS has no extended attributes.
          type: bool
        copied:
          description: The names of the attributes copied.
          type: list
          elements: str
        note:
          description: Why there are none, when RV(results[].extended_attributes.supported) is false.
          type: str
      sample: {"supported": true, "copied": ["security.selinux", "system.posix_acl_access"]}
  sample:
    - path: /etc/myapp/keys/orders.key
      format: base64
      layout: base64 wrapped at 76 (LF)
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
    - In check mode, each blob a run would re-wrap is C(to_move). In both modes, a hard-linked file left alone
      (O(hard_links=skip)) is C(to_move) under its key, and so is a file that changed while it was being re-wrapped
      (it is left with the blob another writer put there; a second run moves it). Each other blob that failed is
      C(unknown) (its key could not be learnt, or it could not be written). Each backup made (O(backup=true)) is
      C(retained) under the old key. Blobs already under the destination or outside O(source_key_ids), files that
      are not blobs, and, in a real run, blobs re-wrapped are not listed.
    - For a sops file, each KMS entry is its own dependent (RV(dependents[].entry) says which). An entry that failed
      (for example one under a disabled source key) is C(unknown), with the key its C(arn) names.
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
      description: C(to_move), C(unknown) or C(retained) (a backup).
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
    entry:
      description: For a sops file, which KMS entry of it (C(sops.kms[0]), ...).
      type: str
      returned: for sops files
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
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.blob_format import FORMATS
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.data_key_rewrap import HARD_LINKS, DataKeyRewrap


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
        hard_links=dict(type="str", choices=list(HARD_LINKS), default="skip"),
        concurrency=dict(type="int", default=16),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, required_one_of=[("paths", "ciphertext_blobs")],
                              supports_check_mode=True)
    run_module(module, DataKeyRewrap)


if __name__ == "__main__":
    main()
