# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ARN helpers on top of amazon.aws's parse_aws_arn (which does the parsing)."""

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn


def arn_region(reference):
    """The region an ARN names, or None for an id, a name or an alias name."""
    parsed = parse_aws_arn(reference) if reference and reference.startswith("arn:") else None
    return parsed["region"] if parsed else None


def with_region(arn, region):
    """The same ARN in another region (a multi-Region key's replica has its primary's id)."""
    parsed = parse_aws_arn(arn)
    return "arn:{0}:{1}:{2}:{3}:{4}".format(
        parsed["partition"], parsed["service"], region, parsed["account_id"], parsed["resource"])
