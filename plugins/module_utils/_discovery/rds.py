# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""RDS for kms_key_usage_info: DB instances and DB clusters (their storage key)."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found


def instances(ctx):
    for instance in items(ctx.client("rds"), "describe_db_instances", "DBInstances"):
        yield Found("rds_db_instance", instance["DBInstanceIdentifier"], instance.get("DBInstanceArn"),
                    instance.get("KmsKeyId"), {"engine": instance.get("Engine")})


def clusters(ctx):
    for cluster in items(ctx.client("rds"), "describe_db_clusters", "DBClusters"):
        yield Found("rds_db_cluster", cluster["DBClusterIdentifier"], cluster.get("DBClusterArn"),
                    cluster.get("KmsKeyId"), {"engine": cluster.get("Engine")})
