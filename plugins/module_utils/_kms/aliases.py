# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""KMS aliases: the one listing of them, and the name form KMS uses."""

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items

AWS_ALIAS_PREFIX = "alias/aws/"


def alias_name(name):
    """An alias reference as KMS names it: `alias/<name>` (an alias ARN gives its name)."""
    if name.startswith("arn:"):
        name = parse_aws_arn(name)["resource"]
    return name if name.startswith("alias/") else "alias/" + name


def list_aliases(kms, key_id=None):
    """The aliases of the region (of one key, given its id or ARN), as ListAliases returns them."""
    params = {"KeyId": key_id} if key_id else {}
    return list(items(kms, "list_aliases", "Aliases", **params))


def aliases_by_target(kms):
    """{target key id: [alias names]} for every alias that points at a key."""
    by_target = {}
    for alias in list_aliases(kms):
        if alias.get("TargetKeyId"):
            by_target.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    return by_target
