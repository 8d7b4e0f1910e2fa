# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Lambda for kms_key_usage_info: functions and their published versions (the key of their environment variables).

ListFunctions gives each function's $LATEST. A published version is
immutable and keeps the key it was published with, so changing $LATEST's
key leaves every earlier version under the old one: ListVersionsByFunction
(one listing per function, in the pool) finds them, whether or not
kms_service_rekey changed the function.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found

FUNCTION_VERSION = "lambda_function_version"
_LATEST = "$LATEST"


def functions(ctx):
    lambda_client = ctx.client("lambda")
    listed = []
    for function in items(lambda_client, "list_functions", "Functions"):
        listed.append(function["FunctionName"])
        yield Found("lambda_function", function["FunctionName"], function.get("FunctionArn"),
                    function.get("KMSKeyArn"), {})

    def published(name):
        return [version for version in items(lambda_client, "list_versions_by_function", "Versions", FunctionName=name)
                if version.get("Version") != _LATEST]

    for versions in ctx.read_each(listed, published):
        for version in versions:
            yield Found(FUNCTION_VERSION, "{0}:{1}".format(version["FunctionName"], version["Version"]),
                        version.get("FunctionArn"), version.get("KMSKeyArn"), {"version": version["Version"]})
