# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Lambda for kms_key_usage_info: functions (the key of their environment variables)."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def functions(ctx):
    for function in items(ctx.client("lambda"), "list_functions", "Functions"):
        yield Found("lambda_function", function["FunctionName"], function.get("FunctionArn"),
                    function.get("KMSKeyArn"), {})
