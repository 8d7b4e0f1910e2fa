# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kinesis Data Streams for kms_service_rekey: StartStreamEncryption with the new key.

Records already in the stream stay under the old key until they expire, so
it is needed until RetentionPeriodHours after the change. Kinesis Data
Streams has no finder in kms_key_usage_info: name streams in `targets`.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Current, Handler, Residue
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import tag_dict, wait_for
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import hours, needed_until

# AWS's retention when a stream names none.
DEFAULT_RETENTION_HOURS = 24


class StreamHandler(Handler):
    SERVICE = "kinesis"

    def _client(self):
        return self.job.client("kinesis")

    def read(self):
        summary = self._client().describe_stream_summary(StreamName=self.job.name, aws_retry=True)[
            "StreamDescriptionSummary"]
        key_ref = summary.get("KeyId") if summary.get("EncryptionType") == "KMS" else None
        return Current(key_ref, {"retention_hours": summary.get("RetentionPeriodHours")})

    def change(self, current):
        kinesis = self._client()
        kinesis.start_stream_encryption(StreamName=self.job.name, EncryptionType="KMS",
                                        KeyId=self.job.keys.destination.arn, aws_retry=True)
        # The stream is UPDATING until the new key is in use; tags cannot be written before.
        wait_for(kinesis, "stream_exists", self.job.spec.wait_timeout, self.job.arn, StreamName=self.job.name)

    def tags(self):
        # A stream has at most 50 tags; one page of 50 holds them all.
        return tag_dict(self._client().list_tags_for_stream(StreamName=self.job.name, Limit=50,
                                                            aws_retry=True).get("Tags"))

    def tag(self, tags):
        self._client().add_tags_to_stream(StreamName=self.job.name, Tags=tags, aws_retry=True)

    def residue(self, current, changed_at):
        retention = current.details["retention_hours"] or DEFAULT_RETENTION_HOURS
        return Residue(needed_until(changed_at, hours(retention)), [])
