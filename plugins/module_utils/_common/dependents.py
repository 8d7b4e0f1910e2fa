# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One vocabulary for what still depends on a KMS key, returned by every engine that touches data.

A dependent is a dict with
- `resource`: what holds the data (an S3 bucket as s3://name, a volume or
  snapshot id, a file path, an ARN);
- `service`: where it lives, in kms_key_usage_info's service names
  (`s3`, `ebs_volumes`, `ebs_snapshots`, `data_key_files`, `rds_instances`, ...);
- `kind`: TO_MOVE (this collection can still move it), BLOCKING (it cannot),
  UNKNOWN (could not be read: counts as blocking), RETAINED (kept on purpose,
  documented: does not hold retirement back);
- `reason`: why, in words a user can act on;
- `key_arn`: the key it depends on, where known;
- `count`: how many items it stands for (object versions of a bucket with the same reason), 1 otherwise.
Engines may add details (`examples`, ...); these six are always there.
"""

TO_MOVE = "to_move"
BLOCKING = "blocking"
UNKNOWN = "unknown"
RETAINED = "retained"
KINDS = (TO_MOVE, BLOCKING, UNKNOWN, RETAINED)


def dependent(resource, service, kind, reason, key_arn=None, count=1, **details):
    if kind not in KINDS:
        raise ValueError("unknown dependent kind {0!r}".format(kind))
    entry = {"resource": resource, "service": service, "kind": kind, "reason": reason, "key_arn": key_arn,
             "count": count}
    entry.update(details)
    return entry


def bucket_resource(name):
    """How dependents (and errors) name an S3 bucket: s3://name, in every engine and in the gate's targets."""
    return "s3://" + name


def holds_retirement(entry):
    """Everything but what was kept on purpose holds the key's retirement back."""
    return entry["kind"] != RETAINED
