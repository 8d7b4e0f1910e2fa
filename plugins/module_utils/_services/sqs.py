# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""SQS for kms_service_rekey: SetQueueAttributes KmsMasterKeyId.

Messages already in the queue keep the data keys they were sent under, so
the old key is needed until the last of them can have left: the change,
plus the data-key reuse period (a data key cached before the change may
still encrypt messages for that long), plus MessageRetentionPeriod. An
empty queue does not shorten it: ApproximateNumberOfMessages (and its
NotVisible and Delayed siblings) are approximate, eventually consistent
counts, and a message read as absent could still be there.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Current, Handler, Residue
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import needed_until

# AWS's values when a queue's attributes name none (seconds).
DEFAULT_RETENTION = 345600
DEFAULT_REUSE_PERIOD = 300


class QueueHandler(Handler):
    SERVICE = "sqs"

    def _client(self):
        return self.job.client("sqs")

    def _url(self):
        return self._client().get_queue_url(QueueName=self.job.parsed["resource"],
                                            QueueOwnerAWSAccountId=self.job.parsed["account_id"],
                                            aws_retry=True)["QueueUrl"]

    def read(self):
        url = self._url()
        attributes = self._client().get_queue_attributes(
            QueueUrl=url, AttributeNames=["KmsMasterKeyId", "MessageRetentionPeriod", "KmsDataKeyReusePeriodSeconds"],
            aws_retry=True).get("Attributes", {})
        return Current(attributes.get("KmsMasterKeyId"), {"url": url, "attributes": attributes})

    def change(self, current):
        self._client().set_queue_attributes(QueueUrl=current.details["url"], Attributes={
            "KmsMasterKeyId": self.job.keys.destination.arn}, aws_retry=True)

    def tags(self):
        return self._client().list_queue_tags(QueueUrl=self._url(), aws_retry=True).get("Tags", {})

    def tag(self, tags):
        self._client().tag_queue(QueueUrl=self._url(), Tags=tags, aws_retry=True)

    def residue(self, current, changed_at):
        attributes = current.details["attributes"]
        seconds = (int(attributes.get("MessageRetentionPeriod") or DEFAULT_RETENTION)
                   + int(attributes.get("KmsDataKeyReusePeriodSeconds") or DEFAULT_REUSE_PERIOD))
        return Residue(needed_until(changed_at, seconds), [])
