# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""SQS for kms_key_usage_info: queues, whose key is an attribute read queue by queue (in the pool)."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def queues(ctx):
    sqs = ctx.client("sqs")

    def attributes(url):
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "KmsMasterKeyId"],
                                             aws_retry=True).get("Attributes", {})

    for url, found in ctx.read_each(items(sqs, "list_queues", "QueueUrls"), attributes):
        yield Found("sqs_queue", url.rsplit("/", 1)[-1], found.get("QueueArn"), found.get("KmsMasterKeyId"),
                    {"url": url})
