# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Systems Manager for kms_key_usage_info: SecureString parameters."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def parameters(ctx):
    for parameter in items(ctx.client("ssm"), "describe_parameters", "Parameters",
                           ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}]):
        yield Found("ssm_parameter", parameter["Name"], parameter.get("ARN"), parameter.get("KeyId"), {})
