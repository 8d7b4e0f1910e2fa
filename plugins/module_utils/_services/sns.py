# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""SNS for kms_service_rekey: SetTopicAttributes KmsMasterKeyId.

A topic stores no messages (it delivers them), so nothing stays under the
old key once the attribute has changed.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Current, Handler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import tag_dict, tag_list


class TopicHandler(Handler):
    SERVICE = "sns"

    def _client(self):
        return self.job.client("sns")

    def read(self):
        attributes = self._client().get_topic_attributes(TopicArn=self.job.arn, aws_retry=True).get("Attributes", {})
        return Current(attributes.get("KmsMasterKeyId"), {})

    def change(self, current):
        self._client().set_topic_attributes(TopicArn=self.job.arn, AttributeName="KmsMasterKeyId",
                                            AttributeValue=self.job.keys.destination.arn, aws_retry=True)

    def tags(self):
        return tag_dict(self._client().list_tags_for_resource(ResourceArn=self.job.arn, aws_retry=True).get("Tags"))

    def tag(self, tags):
        self._client().tag_resource(ResourceArn=self.job.arn, Tags=tag_list(tags), aws_retry=True)
