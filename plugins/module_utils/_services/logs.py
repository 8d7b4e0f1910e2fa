# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""CloudWatch Logs for kms_service_rekey: AssociateKmsKey.

Events already ingested stay under the key they were written with until
they expire, so the old key is needed until retentionInDays after the
change; a group that keeps its events for ever (no retention) needs it for
ever, which blocks until a retention is set.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Current, Handler, Residue
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import ResourceNotFound
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import days, needed_until


class LogGroupHandler(Handler):
    SERVICE = "logs"

    def _client(self):
        return self.job.client("logs")

    @property
    def _group_name(self):
        # arn:...:log-group:NAME, or NAME:* as DescribeLogGroups gives it.
        name = self.job.name
        return name[:-2] if name.endswith(":*") else name

    @property
    def _group_arn(self):
        # The tagging API takes the ARN without the trailing ":*".
        return self.job.arn[:-2] if self.job.arn.endswith(":*") else self.job.arn

    def read(self):
        name = self._group_name
        for group in items(self._client(), "describe_log_groups", "logGroups", logGroupNamePrefix=name):
            if group["logGroupName"] == name:
                return Current(group.get("kmsKeyId"), {"retention_days": group.get("retentionInDays")})
        raise ResourceNotFound(name)

    def change(self, current):
        self._client().associate_kms_key(logGroupName=self._group_name, kmsKeyId=self.job.keys.destination.arn,
                                         aws_retry=True)

    def tags(self):
        return self._client().list_tags_for_resource(resourceArn=self._group_arn, aws_retry=True).get("tags", {})

    def tag(self, tags):
        self._client().tag_resource(resourceArn=self._group_arn, tags=tags, aws_retry=True)

    def residue(self, current, changed_at):
        retention = current.details["retention_days"]
        if not retention:
            return self.blocked(
                "the log group keeps its events for ever (no retention), so the events written before the key "
                "change need the old key for ever. Fix: set a retention (aws logs put-retention-policy "
                "--log-group-name {0} --retention-in-days N) and run again: the old key is then needed for N days "
                "after the change.".format(self._group_name))
        return Residue(needed_until(changed_at, days(retention)), [])
