# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: kms_rotation
short_description: One host per customer managed KMS key, with the rotation role's variables filled from discovery
version_added: 0.1.0
description:
  - Lists customer managed KMS keys in the given regions, filtered by alias pattern, tags or key ids, and yields
    one host per key in group C(kms_rotation). Each host carries the variables the C(kmsrotate.aws.rotation) role
    reads, filled from discovery (see M(kmsrotate.aws.kms_key_usage_info) and M(kmsrotate.aws.kms_key_rotation)).
  - "Host variables: C(kms_rotation_source_key) (key ARN), C(kms_rotation_region), C(kms_rotation_aliases),
    C(kms_rotation_s3_buckets) (buckets whose default encryption uses the key), C(kms_rotation_ebs_volume_ids),
    C(kms_rotation_ebs_snapshot_ids). Informational ones: C(kms_rotation_strategy), C(kms_rotation_strategy_reason),
    C(kms_rotation_key_state), C(kms_rotation_key_spec), C(kms_rotation_origin), C(kms_rotation_blocking) (count),
    C(kms_rotation_blocking_resources), C(kms_rotation_unknown_services) and C(kms_rotation_usage_services)."
  - Hosts are named after the key's first alias (without C(alias/)) or its key id, then the region, as in
    C(app-data_us-east-1).
  - "Groups: C(kms_rotation) (every host), C(region_<region>) and C(strategy_<strategy>), plus whatever O(keyed_groups)
    and O(groups) add."
  - The inventory file must end with C(kms_rotation.yml) or C(kms_rotation.yaml).
  - "Many accounts: with O(assume_role_arn) (one account per inventory source, amazon.aws's own option) or
    O(assume_role_arns) (several accounts in one source), keys are listed with each role's credentials. Each host
    then carries C(kms_rotation_iam_role_arn), which makes the C(kmsrotate.aws.rotation) role assume the same role
    and run in that account, and its name ends with the account id (C(app-data_us-east-1_111122223333)), so the same
    alias in two accounts makes two hosts. Every host carries C(kms_rotation_account_id)."
extends_documentation_fragment:
  - inventory_cache
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  plugin:
    description: The name of this plugin. It must be C(kmsrotate.aws.kms_rotation).
    required: true
    choices: [kmsrotate.aws.kms_rotation]
    type: str
  regions:
    description:
      - Regions to list keys in. When empty, all regions EC2 reports.
    type: list
    elements: str
    default: []
  key_ids:
    description:
      - Only these keys (id, ARN, alias name or alias ARN). When empty, every customer managed key passing the other filters.
    type: list
    elements: str
    default: []
  aliases:
    description:
      - Only keys with an alias matching one of these shell patterns, for example C(alias/app-*). The C(alias/) prefix
        may be left out.
    type: list
    elements: str
    default: []
  tags:
    description:
      - Only keys carrying all these tags with these values.
    type: dict
    default: {}
  key_states:
    description:
      - Only keys in these states.
    type: list
    elements: str
    default: [Enabled]
  discover_usage:
    description:
      - Fill the target variables from usage discovery. Without it, hosts only get the key, region, aliases and strategy.
    type: bool
    default: true
  assume_role_arns:
    description:
      - Roles to assume in turn, one per account, each with the credentials given to the plugin (not chained through
        the previous role). Keys are listed in every account, in every region of O(regions).
      - Use either this or O(assume_role_arn).
    type: list
    elements: str
    default: []
    aliases: [iam_role_arns]
  usage_services:
    description:
      - Services usage discovery searches (the O(kmsrotate.aws.kms_key_usage_info#module:services) names). All when empty.
    type: list
    elements: str
    choices: [s3, ebs_volumes, ebs_snapshots, ebs_default_key, ami, rds_instances, rds_clusters, efs, dynamodb,
              secretsmanager, ssm, lambda, sqs, sns, logs, grants]
    default: []
"""

EXAMPLES = r"""
# demo.kms_rotation.yml: every customer managed key whose alias starts with app- in two regions
plugin: kmsrotate.aws.kms_rotation
regions:
  - us-east-1
  - eu-west-1
aliases:
  - alias/app-*
tags:
  rotation: planned
keyed_groups:
  - key: kms_rotation_origin
    prefix: origin
compose:
  kms_rotation_retire: "'none' if kms_rotation_blocking > 0 else 'disable'"

# Then: ansible-playbook -i demo.kms_rotation.yml kmsrotate.aws.rotate --check

---
# accounts.kms_rotation.yml: the keys of two accounts, each host rotated in its own account
plugin: kmsrotate.aws.kms_rotation
regions: [eu-west-1]
aliases: [alias/app-*]
assume_role_arns:
  - arn:aws:iam::111111111111:role/kms-rotation
  - arn:aws:iam::222222222222:role/kms-rotation
keyed_groups:
  - key: kms_rotation_account_id
    prefix: account
"""

import fnmatch

from ansible.errors import AnsibleError

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.plugin_utils.inventory import AWSInventoryBase

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import KeyUsageDiscovery, UsageSpec
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.aliases import aliases_by_target
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_rotation import describe_key_rotation
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver

ROTATION_GROUP = "kms_rotation"
# Requests in flight of each region's usage discovery: kms_key_usage_info's default.
_CONCURRENCY = 10


def _ids_of(usage, resource_type):
    return [entry["id"] for entry in usage["resources"] if entry["resource_type"] == resource_type]


def _host_vars(facts, usage, role_arn):
    """The rotation role's variables for one key, from its rotation facts and usage, and the role it was found as."""
    host_vars = {
        "kms_rotation_source_key": facts["key_arn"],
        "kms_rotation_account_id": parse_aws_arn(facts["key_arn"])["account_id"],
        "kms_rotation_region": facts["region"],
        "kms_rotation_aliases": facts["aliases"],
        "kms_rotation_strategy": facts["strategy"],
        "kms_rotation_strategy_reason": facts["strategy_reason"],
        "kms_rotation_key_state": facts["key_state"],
        "kms_rotation_key_spec": facts["key_spec"],
        "kms_rotation_origin": facts["origin"],
    }
    if role_arn:
        host_vars["kms_rotation_iam_role_arn"] = role_arn
    if usage is not None:
        host_vars.update({
            "kms_rotation_s3_buckets": _ids_of(usage, "s3_bucket_default_encryption"),
            "kms_rotation_ebs_volume_ids": _ids_of(usage, "ebs_volume"),
            "kms_rotation_ebs_snapshot_ids": _ids_of(usage, "ebs_snapshot"),
            "kms_rotation_blocking": usage["blocking"],
            "kms_rotation_blocking_resources": usage["blocking_resources"],
            "kms_rotation_unknown_services": usage["unknown_services"],
            "kms_rotation_usage_services": dict((name, {"status": service["status"], "count": service["count"]})
                                                for name, service in usage["services"].items()),
        })
    return host_vars


def _host_name(facts, role_arn):
    """<alias or key id>_<region>, and _<account> for a key found through a role (one alias may be in several)."""
    name = facts["aliases"][0][len("alias/"):].replace("/", "-") if facts["aliases"] else facts["key_id"]
    if role_arn:
        return "{0}_{1}_{2}".format(name, facts["region"], parse_aws_arn(facts["key_arn"])["account_id"])
    return "{0}_{1}".format(name, facts["region"])


def _has_tags(kms, key_arn, wanted):
    found = dict((tag["TagKey"], tag["TagValue"]) for tag in items(kms, "list_resource_tags", "Tags", KeyId=key_arn))
    return all(found.get(name) == str(value) for name, value in wanted.items())


class InventoryModule(AWSInventoryBase):
    NAME = "kmsrotate.aws.kms_rotation"
    INVENTORY_FILE_SUFFIXES = ("kms_rotation.yml", "kms_rotation.yaml")

    @staticmethod
    def _selected(kms, resolver, key_arns, patterns, tags, states):
        """ARNs of the region's customer managed keys that pass every filter."""
        aliases = aliases_by_target(kms) if patterns else {}
        for listed in items(kms, "list_keys", "Keys"):
            if key_arns is not None and listed["KeyArn"] not in key_arns:
                continue
            if patterns and not any(fnmatch.fnmatchcase(alias, pattern) for alias in aliases.get(listed["KeyId"], [])
                                    for pattern in patterns):
                continue
            # Resolved through the resolver, whose answer describe_key_rotation reads again from its cache.
            info = resolver.resolve(listed["KeyArn"])
            if info.key_manager != "CUSTOMER" or info.state not in states:
                continue
            if tags and not _has_tags(kms, listed["KeyArn"], tags):
                continue
            yield listed["KeyArn"]

    def _roles(self):
        """The role to list keys as, per account: None for the credentials as given (or assume_role_arn's)."""
        roles = self.get_option("assume_role_arns")
        if roles and self.get_option("assume_role_arn"):
            raise AnsibleError("kms_rotation inventory: set assume_role_arn or assume_role_arns, not both.")
        return roles or [None]

    def _discover(self):
        """Plain host records for every selected key of every account: what the cache keeps."""
        records = []
        for role_arn in self._roles():
            if role_arn:
                # amazon.aws's own assume-role, made with the credentials as given, not the previous role's.
                self._frozen_credentials = {}
                self._freeze_iam_role(role_arn)
            records.extend(self._discover_account(role_arn or self.get_option("assume_role_arn")))
        return records

    def _discover_account(self, role_arn):
        """Host records of the keys the current credentials see, in every region."""
        patterns = [pattern if pattern.startswith("alias/") else "alias/" + pattern
                    for pattern in self.get_option("aliases")]
        records = []
        for region in self._boto3_regions(service="kms"):
            limit = AdaptiveLimit(_CONCURRENCY)
            clients = Clients.from_ansible(self, limit, region=region)
            kms = clients("kms")
            resolver = KeyResolver(kms)
            key_arns = None
            if self.get_option("key_ids"):
                key_arns = set()
                for key_ref in self.get_option("key_ids"):
                    try:
                        key_arns.add(resolver.arn(key_ref))
                    except RotationError:
                        continue  # a key of another region
            for key_arn in self._selected(kms, resolver, key_arns, patterns, self.get_option("tags"), self.get_option("key_states")):
                facts = describe_key_rotation(kms, resolver, key_arn)
                usage = None
                if self.get_option("discover_usage"):
                    usage = KeyUsageDiscovery(clients, limit).run(
                        UsageSpec(key_id=key_arn, services=self.get_option("usage_services"))).values
                records.append({"name": _host_name(facts, role_arn), "vars": _host_vars(facts, usage, role_arn)})
        return records

    def _populate(self, records):
        strict = self.get_option("strict")
        self.inventory.add_group(ROTATION_GROUP)
        for record in records:
            name, host_vars = record["name"], record["vars"]
            self.inventory.add_host(name, group=ROTATION_GROUP)
            for variable, value in host_vars.items():
                self.inventory.set_variable(name, variable, value)
            for group in ("region_" + host_vars["kms_rotation_region"], "strategy_" + host_vars["kms_rotation_strategy"]):
                group = self.inventory.add_group(self._sanitize_group_name(group))
                self.inventory.add_child(group, name)
            self._set_composite_vars(self.get_option("compose"), host_vars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, name, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        result_was_cached, records = self.get_cached_result(path, cache)
        if not result_was_cached:
            try:
                records = self._discover()
            except RotationError as exc:
                raise AnsibleError("kms_rotation inventory: {0}".format(exc))
        self._populate(records)
        self.update_cached_result(path, cache, records)
