# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""KMS for kms_key_usage_info: grants on the key."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dates import iso_date
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def grants(ctx):
    """Grants on this region's copy of the key: principals allowed to use it."""
    for grant in items(ctx.client("kms"), "list_grants", "Grants", KeyId=ctx.key_arn):
        yield Found("kms_grant", grant.get("GrantId"), None, ctx.key_arn, {
            "grantee_principal": grant.get("GranteePrincipal"), "name": grant.get("Name"),
            "operations": grant.get("Operations", []), "retiring_principal": grant.get("RetiringPrincipal"),
            "creation_date": iso_date(grant.get("CreationDate"))})
