# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""EFS for kms_key_usage_info: file systems."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def file_systems(ctx):
    for file_system in items(ctx.client("efs"), "describe_file_systems", "FileSystems"):
        yield Found("efs_file_system", file_system["FileSystemId"], file_system.get("FileSystemArn"),
                    file_system.get("KmsKeyId"), {"name": file_system.get("Name")})
