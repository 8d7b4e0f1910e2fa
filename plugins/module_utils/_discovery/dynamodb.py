# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""DynamoDB for kms_key_usage_info: tables, whose key only DescribeTable tells (one call per table, in the pool)."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def tables(ctx):
    dynamodb = ctx.client("dynamodb")

    def table_key(name):
        table = dynamodb.describe_table(TableName=name, aws_retry=True)["Table"]
        return name, table.get("TableArn"), (table.get("SSEDescription") or {}).get("KMSMasterKeyArn")

    for name, arn, key_ref in ctx.read_each(items(dynamodb, "list_tables", "TableNames"), table_key):
        yield Found("dynamodb_table", name, arn, key_ref, {})
