# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Systems Manager for kms_service_rekey: SecureString parameters.

SSM cannot change a parameter's key in place: moving one means reading its
plaintext on the controller (GetParameter WithDecryption) and writing it
again (PutParameter Overwrite with the new KeyId). That is off unless
allow_plaintext_on_controller is true; otherwise the parameter gets a plan
and blocks. The value lives in one local variable: it is never in a result,
a log or an exception message (an AWS error of those two calls is reported
by its code only, because a ValidationException can quote the value).

Type, Tier, Description, AllowedPattern, DataType and policies are written
again; tags stay with the parameter. The write makes a new version; the
parameter's history keeps its earlier versions under the old key: labelled
ones block (a label is how a reader names an old version), unlabelled ones
are `retained` (documented: SSM keeps the last 100 versions, and deleting
history means deleting the parameter).
"""

import json

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import RETAINED
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import error_code
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import Current, Handler, Residue
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import ResourceNotFound, tag_dict
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.contract import tag_list
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER

# The options of PutParameter that DescribeParameters tells and a rewrite must keep.
_KEPT = ("Tier", "Description", "AllowedPattern", "DataType")


def _redacted(exc, action):
    """An error of a call that carried a value, without AWS's message (it may quote the value)."""
    return RotationError("{0} failed: {1} (AWS's message is withheld: it may quote the value).".format(
        action, error_code(exc) or type(exc).__name__),
        fix="check ssm:{0} and kms:{1} for the caller, then run again.".format(
            action, "Decrypt" if action == "GetParameter" else "Encrypt and kms:GenerateDataKey"))


class ParameterHandler(Handler):
    SERVICE = "ssm"
    DEFAULT_KEY = "alias/aws/ssm"

    def _client(self):
        return self.job.client("ssm")

    def _candidate_names(self):
        # arn:...:parameter/a/b is /a/b; arn:...:parameter/a is a (or /a: both are valid names).
        rest = self.job.name
        return ["/" + rest] if "/" in rest else [rest, "/" + rest]

    def read(self):
        for parameter in items(self._client(), "describe_parameters", "Parameters", ParameterFilters=[
                {"Key": "Name", "Option": "Equals", "Values": self._candidate_names()}]):
            if parameter.get("Type") != "SecureString":
                # A String or StringList parameter has no key: it cannot be under the source key.
                return Current(None, {"parameter": parameter, "secure": False})
            return Current(parameter.get("KeyId"), {"parameter": parameter, "secure": True})
        raise ResourceNotFound(self.job.arn)

    def moves(self, current, key_arn):
        return current.details["secure"] and Handler.moves(self, current, key_arn)

    def plan(self, current):
        if self.job.spec.allow_plaintext_on_controller:
            return None
        return {
            "resource": self.job.arn, "service": self.SERVICE, "key_arn": self.job.keys.source.arn,
            "reason": "SSM cannot change a SecureString's key in place: the value must be read in plaintext and "
                      "written again under the new key.",
            "steps": ["set allow_plaintext_on_controller: true to let this module do it (GetParameter with "
                      "decryption, then PutParameter with Overwrite and the new KeyId, values under no_log)",
                      "or write the value again yourself: aws ssm put-parameter --overwrite --type SecureString "
                      "--key-id <destination key ARN>"],
        }

    def change(self, current):
        ssm = self._client()
        parameter = current.details["parameter"]
        name = parameter["Name"]
        try:
            value = ssm.get_parameter(Name=name, WithDecryption=True, aws_retry=True)["Parameter"]["Value"]
        except ClientError as exc:
            raise _redacted(exc, "GetParameter") from None
        options = dict((option, parameter[option]) for option in _KEPT if parameter.get(option))
        policies = [json.loads(policy["PolicyText"]) for policy in parameter.get("Policies") or []]
        if policies:
            options["Policies"] = json.dumps(policies)
        try:
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", KeyId=self.job.keys.destination.arn,
                              Overwrite=True, aws_retry=True, **options)
        except ClientError as exc:
            raise _redacted(exc, "PutParameter") from None

    def tags(self):
        return tag_dict(self._client().list_tags_for_resource(
            ResourceType="Parameter", ResourceId=self._name_of_read(), aws_retry=True).get("TagList"))

    def tag(self, tags):
        self._client().add_tags_to_resource(ResourceType="Parameter", ResourceId=self._name_of_read(),
                                            Tags=tag_list(tags), aws_retry=True)

    def _name_of_read(self):
        return self.read().details["parameter"]["Name"]

    def residue(self, current, changed_at):
        source = self.job.keys.source.arn
        name = current.details["parameter"]["Name"]
        labelled = []
        unlabelled = []
        # WithDecryption false: the history's values are never decrypted; they are dropped unread.
        for version in items(self._client(), "get_parameter_history", "Parameters", Name=name, WithDecryption=False):
            if version.get("Type") != "SecureString" or self.job.key_arn(version.get("KeyId"), self.DEFAULT_KEY) != source:
                continue
            (labelled if version.get("Labels") else unlabelled).append(version.get("Version"))
        dependents = []
        if labelled:
            dependents.append(self.dependent(
                "{0} labelled version(s) in the parameter's history ({1}) stay under the old key. Fix: move the "
                "labels to the current version (aws ssm label-parameter-version) or remove them "
                "(unlabel-parameter-version), then run again.".format(
                    len(labelled), ", ".join(str(number) for number in labelled)), count=len(labelled)))
        if unlabelled:
            dependents.append(self.dependent(
                "{0} earlier unlabelled version(s) in the parameter's history stay under the old key; they are "
                "kept on purpose (GetParameterHistory cannot decrypt them once the key is retired; SSM keeps the "
                "last 100 versions and deletes history only with the parameter).".format(len(unlabelled)),
                kind=RETAINED, count=len(unlabelled)))
        return Residue(NEVER if labelled else None, dependents)
