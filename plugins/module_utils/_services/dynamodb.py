# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""DynamoDB for kms_service_rekey: UpdateTable SSESpecification with the new key, then wait for ACTIVE.

DynamoDB re-wraps the table's own key under the new KMS key online; the
table's items, indexes and streams follow. What was made before the change
keeps the old key (docs/services.md): on-demand backups (ListBackups up to
the change, blocking: a restore needs the key they were made under), and
point-in-time recovery, whose restorable window reaches back
RecoveryPeriodInDays (35 by default) before the change.

Each replica of a global table has its own key in its own region. Under a
single-Region source key, the replicas are under other keys and are not this
rotation's. Under a multi-Region source key, they are under its replicas:
with a multi-Region destination key they move too (ReplicaUpdates naming the
destination's replica in each region), otherwise each replica blocks until
the module runs in its region with that region's keys.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.arn import with_region
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Current, Handler, Residue
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import tag_dict, tag_list, wait_for
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER, days, latest, needed_until

# AWS's point-in-time recovery window when a table names none.
DEFAULT_RECOVERY_DAYS = 35


class TableHandler(Handler):
    SERVICE = "dynamodb"

    def _client(self):
        return self.job.client("dynamodb")

    def read(self):
        table = self._client().describe_table(TableName=self.job.name, aws_retry=True)["Table"]
        sse = table.get("SSEDescription") or {}
        replicas = [replica["RegionName"] for replica in table.get("Replicas", [])
                    if replica.get("RegionName") != self.job.parsed["region"]]
        return Current(sse.get("KMSMasterKeyArn"), {"replicas": replicas})

    def _replicas_under_source(self, current):
        return current.details["replicas"] if self.job.keys.source.multi_region else []

    def _replicas_follow(self):
        return self.job.keys.destination.multi_region

    def change(self, current):
        dynamodb = self._client()
        destination = self.job.keys.destination.arn
        dynamodb.update_table(TableName=self.job.name, SSESpecification={
            "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": destination}, aws_retry=True)
        self._wait()
        if self._replicas_follow():
            for region in self._replicas_under_source(current):
                dynamodb.update_table(TableName=self.job.name, ReplicaUpdates=[{"Update": {
                    "RegionName": region, "KMSMasterKeyId": with_region(destination, region)}}], aws_retry=True)
                self._wait()

    def _wait(self):
        wait_for(self._client(), "table_exists", self.job.spec.wait_timeout, self.job.arn, TableName=self.job.name)

    def tags(self):
        return tag_dict(item for item in items(self._client(), "list_tags_of_resource", "Tags", ResourceArn=self.job.arn))

    def tag(self, tags):
        self._client().tag_resource(ResourceArn=self.job.arn, Tags=tag_list(tags), aws_retry=True)

    def residue(self, current, changed_at):
        dynamodb = self._client()
        dependents = []
        until = None
        recovery = dynamodb.describe_continuous_backups(TableName=self.job.name, aws_retry=True).get(
            "ContinuousBackupsDescription", {}).get("PointInTimeRecoveryDescription", {})
        if recovery.get("PointInTimeRecoveryStatus") == "ENABLED":
            until = needed_until(changed_at, days(recovery.get("RecoveryPeriodInDays") or DEFAULT_RECOVERY_DAYS))
        backups = list(items(dynamodb, "list_backups", "BackupSummaries", TableName=self.job.name,
                             TimeRangeUpperBound=changed_at))
        if backups:
            dependents.append(self.dependent(
                "{0} on-demand backup(s) of the table made before the key change keep the old key: restoring one "
                "needs it. Fix: delete them once they are not needed, or restore each to a table under the new key "
                "and back that up.".format(len(backups)), count=len(backups),
                examples=[backup["BackupArn"] for backup in backups[:5]]))
        if not self._replicas_follow():
            dependents.extend(self.dependent(
                "replica in {0}: it is under the source key's replica there, and this run's destination key is "
                "single-Region. Fix: run kms_service_rekey in {0} with that region's keys for the table's ARN "
                "there.".format(region), kind=BLOCKING, resource=with_region(self.job.arn, region))
                for region in self._replicas_under_source(current))
        return Residue(latest([until] + ([NEVER] if dependents else [])), dependents)
