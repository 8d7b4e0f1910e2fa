# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Secrets Manager for kms_key_usage_info: secrets, and the version list the gate and kms_service_rekey read."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def secrets(ctx):
    for secret in items(ctx.client("secretsmanager"), "list_secrets", "SecretList"):
        yield Found("secretsmanager_secret", secret["Name"], secret.get("ARN"), secret.get("KmsKeyId"), {})


def secret_versions(secretsmanager, secret_id, include_deprecated=False):
    """ListSecretVersionIds, page by page (botocore has no paginator for it)."""
    request = {"SecretId": secret_id, "IncludeDeprecated": include_deprecated, "MaxResults": 100}
    while True:
        page = secretsmanager.list_secret_version_ids(aws_retry=True, **request)
        yield from page.get("Versions", [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]
