# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Lambda for kms_service_rekey: UpdateFunctionConfiguration KMSKeyArn of $LATEST.

Published versions are immutable and keep the key their environment
variables were encrypted with: each one under the old key is a blocking
dependent (delete it once nothing invokes it, or publish a new version and
move its aliases).
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import NOTHING_LEFT, Current, Handler
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Residue, wait_for
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER

LATEST = "$LATEST"


class FunctionHandler(Handler):
    SERVICE = "lambda"
    DEFAULT_KEY = "alias/aws/lambda"

    def _client(self):
        return self.job.client("lambda")

    @property
    def _function_name(self):
        # function:NAME or function:NAME:QUALIFIER: the function's $LATEST either way.
        return self.job.name.split(":", 1)[0]

    def read(self):
        configuration = self._client().get_function_configuration(FunctionName=self._function_name, aws_retry=True)
        return Current(configuration.get("KMSKeyArn"), {"function_arn": configuration["FunctionArn"]})

    def change(self, current):
        lambda_client = self._client()
        # An update still in progress refuses another: wait for it first.
        wait_for(lambda_client, "function_updated", self.job.spec.wait_timeout, self.job.arn,
                 FunctionName=self._function_name)
        lambda_client.update_function_configuration(FunctionName=self._function_name,
                                                    KMSKeyArn=self.job.keys.destination.arn, aws_retry=True)
        wait_for(lambda_client, "function_updated", self.job.spec.wait_timeout, self.job.arn,
                 FunctionName=self._function_name)

    def tags(self):
        return self._client().list_tags(Resource=self._unqualified_arn(), aws_retry=True).get("Tags", {})

    def tag(self, tags):
        self._client().tag_resource(Resource=self._unqualified_arn(), Tags=tags, aws_retry=True)

    def _unqualified_arn(self):
        return self.job.arn[:len(self.job.arn) - len(self.job.name)] + self._function_name

    def residue(self, current, changed_at):
        source = self.job.keys.source.arn
        dependents = [
            self.dependent("published version {0} keeps the old key for its environment variables (versions are "
                           "immutable). Fix: publish a new version, move its aliases to it, then delete version {0} "
                           "(aws lambda delete-function --qualifier {0}).".format(version["Version"]),
                           resource=version["FunctionArn"])
            for version in items(self._client(), "list_versions_by_function", "Versions",
                                 FunctionName=self._function_name)
            if version.get("Version") != LATEST
            and self.job.key_arn(version.get("KMSKeyArn"), self.DEFAULT_KEY) == source]
        return Residue(NEVER, dependents) if dependents else NOTHING_LEFT
