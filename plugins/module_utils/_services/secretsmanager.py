# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Secrets Manager for kms_service_rekey: UpdateSecret with the new KmsKeyId.

AWS re-encrypts the versions labelled AWSCURRENT, AWSPENDING and AWSPREVIOUS
under the new key; every other version keeps the key it was written under.
No API names the key of a version, so it is inferred (docs/services.md):
a version created before the key change and not labelled with one of those
three stages now is taken as still under the old key. A version that had
such a label at the change and lost it since is counted too (fail closed).
Secret values are never read or written.
"""

import datetime

from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.alias_history import CLOCK_SKEW
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.secretsmanager import secret_versions
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import NOTHING_LEFT, Current, Handler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import tag_dict, tag_list

# The stages AWS re-encrypts when a secret's key changes.
REENCRYPTED_STAGES = frozenset(["AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"])
# Version ids named in a dependent, at most.
EXAMPLES = 5


def _is_alias(key_ref):
    return bool(key_ref) and (key_ref.startswith("alias/") or ":alias/" in key_ref)


class SecretHandler(Handler):
    SERVICE = "secretsmanager"
    DEFAULT_KEY = "alias/aws/secretsmanager"

    def _client(self):
        return self.job.client("secretsmanager")

    def read(self):
        secret = self._client().describe_secret(SecretId=self.job.arn, aws_retry=True)
        return Current(secret.get("KmsKeyId"), {"tags": tag_dict(secret.get("Tags"))})

    def moves(self, current, key_arn):
        # A secret that names its key by an alias: its versions were encrypted under the key the alias
        # pointed at when each was written, which may be the source although the alias names the
        # destination now. UpdateSecret with the destination's ARN re-encrypts them and ends the doubt.
        if _is_alias(current.key_ref) and key_arn == self.job.keys.destination.arn:
            return True
        return Handler.moves(self, current, key_arn)

    def change(self, current):
        self._client().update_secret(SecretId=self.job.arn, KmsKeyId=self.job.keys.destination.arn, aws_retry=True)

    def tags(self):
        return self.read().details["tags"]

    def tag(self, tags):
        self._client().tag_resource(SecretId=self.job.arn, Tags=tag_list(tags), aws_retry=True)

    def residue(self, current, changed_at):
        left = []
        for version in secret_versions(self._client(), self.job.arn, include_deprecated=True):
            created = version.get("CreatedDate")
            stages = version.get("VersionStages") or []
            if REENCRYPTED_STAGES.intersection(stages):
                continue
            # AWS's clock against the controller's: a version within the tolerance counts as old, as does an
            # undated one (fail closed).
            if isinstance(created, datetime.datetime) and created > changed_at + CLOCK_SKEW:
                continue
            left.append({"version_id": version["VersionId"], "stages": stages})
        if not left:
            return NOTHING_LEFT
        labelled = sum(1 for version in left if version["stages"])
        return self.blocked(
            "{0} version(s) of the secret written before the key change are not labelled AWSCURRENT, AWSPENDING or "
            "AWSPREVIOUS ({1} with other labels, {2} with none), so UpdateSecret did not re-encrypt them: they stay "
            "under the old key. AWS names no key per version: this is inferred from the version list and the time "
            "of the change. Fix: for a labelled one, write its value again as a new version (PutSecretValue) and "
            "move the label to it; an unlabelled one is removed by Secrets Manager only when the secret has more "
            "than 100 versions, or when the secret is recreated.".format(len(left), labelled, len(left) - labelled),
            count=len(left), examples=left[:EXAMPLES])
