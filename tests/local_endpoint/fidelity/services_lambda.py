"""Lambda UpdateFunctionConfiguration KMSKeyArn, which moto 5.2.5 silently ignores.

- UpdateFunctionConfiguration with KMSKeyArn sets the key of $LATEST's
  environment variables: GetFunctionConfiguration (and ListFunctions) show
  it, with LastUpdateStatus Successful (moto's changes are instant). An
  empty KMSKeyArn goes back to Lambda's AWS managed key (no KMSKeyArn).
- Published versions are immutable in AWS and keep the key they were
  published with: moto already copies $LATEST at PublishVersion, so
  ListVersionsByFunction shows each version's own key once $LATEST's changes.
- The key must be a key ARN that exists and is Enabled in the function's
  account and region: Lambda makes a grant on it, and AWS refuses the update
  with InvalidParameterValueException "Lambda was unable to configure access
  to your environment variables because the KMS key is invalid for
  CreateGrant. Please check your KMS key settings. KMS Exception: <code> ..."
  (the wording users report; an alias gives InvalidArnException "Key Aliases
  are not supported for this operation"), and nothing changes.
"""

import functools

from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from .services_keys import find_key, refusal

_installed = False


class InvalidParameterValueException(JsonRESTError):
    code = 400

    def __init__(self, kms_code, kms_message):
        super().__init__("InvalidParameterValueException", (
            "Lambda was unable to configure access to your environment variables because the KMS key is invalid "
            f"for CreateGrant. Please check your KMS key settings. KMS Exception: {kms_code} KMS Message: {kms_message}"))


def _update_configuration(original):
    @functools.wraps(original)
    def update_configuration(self, config_updates):
        if "KMSKeyArn" in config_updates:
            key_arn = config_updates["KMSKeyArn"] or None
            if key_arn is not None:
                if ":alias/" in key_arn or not key_arn.startswith("arn:"):
                    raise InvalidParameterValueException("InvalidArnException",
                                                         "Key Aliases are not supported for this operation")
                key = find_key(self.account_id, self.region, key_arn)
                if key is None:
                    raise InvalidParameterValueException("NotFoundException", f"Key '{key_arn}' does not exist")
                refused = refusal(key)
                if refused:
                    raise InvalidParameterValueException(*refused)
            self.kms_key_arn = key_arn
        return original(self, config_updates)
    return update_configuration


def install():
    global _installed
    if _installed:
        return
    LambdaFunction.update_configuration = _update_configuration(LambdaFunction.update_configuration)
    _installed = True
