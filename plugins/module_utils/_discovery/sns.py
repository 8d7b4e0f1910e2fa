# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""SNS for kms_key_usage_info: topics, whose key is an attribute read topic by topic (in the pool)."""

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def topics(ctx):
    sns = ctx.client("sns")

    def attributes(arn):
        return arn, sns.get_topic_attributes(TopicArn=arn, aws_retry=True).get("Attributes", {})

    arns = (topic["TopicArn"] for topic in items(sns, "list_topics", "Topics"))
    for arn, found in ctx.read_each(arns, attributes):
        yield Found("sns_topic", parse_aws_arn(arn)["resource"], arn, found.get("KmsMasterKeyId"), {})
