# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""CloudWatch Logs for kms_key_usage_info: log groups."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def log_groups(ctx):
    for group in items(ctx.client("logs"), "describe_log_groups", "logGroups"):
        yield Found("logs_log_group", group["logGroupName"], group.get("arn"), group.get("kmsKeyId"), {})
