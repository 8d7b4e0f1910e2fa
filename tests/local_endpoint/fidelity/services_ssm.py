"""SSM SecureString parameters and the state of their key, which moto 5.2.5 ignores.

moto 5.2.5 gets PutParameter with Overwrite and a new KeyId right (a new
version under the new key; GetParameterHistory names each version's key).
What it gets wrong, as AWS documents and reports it:

- PutParameter of a SecureString naming a key that does not exist, or is not
  Enabled, fails with InvalidKeyId and KMS's own error in the message
  ("<arn> is disabled. (Service: AWSKMS; Status Code: 400; Error Code:
  DisabledException)", as users see it); moto stores any string.
- Reading a SecureString's value (GetParameter, GetParameters,
  GetParametersByPath, GetParameterHistory with WithDecryption) needs the key
  the version was encrypted under: each version records that key's ARN when it
  is written (an alias is resolved then, as AWS does), and a read while that
  key is Disabled or PendingDeletion fails with InvalidKeyId. moto returns
  the plaintext whatever the key's state, which would hide that the value is
  lost once the key is retired. Reads without decryption are unaffected.
"""

import functools

from moto.ssm import models as ssm_models
from moto.ssm.exceptions import SSMException

from .services_keys import find_key, refusal

_installed = False
# Where a parameter version records the ARN of the key its value is encrypted under.
VERSION_KEY = "_kmsrotate_key_arn"
_DEFAULT_KEY = "alias/aws/ssm"


class InvalidKeyId(SSMException):
    def __init__(self, kms_code, kms_message):
        super().__init__("InvalidKeyId", "{0} (Service: AWSKMS; Status Code: 400; Error Code: {1})".format(
            kms_message, kms_code))


def _put_parameter(original):
    @functools.wraps(original)
    def put_parameter(self, name, description, value, parameter_type, allowed_pattern, keyid, *args, **kwargs):
        previous = self._parameters[name][-1] if self._parameters.get(name) else None
        if previous is not None and parameter_type is None:
            # An overwrite without Type keeps the type, and without KeyId the key reference (moto's own rule).
            parameter_type = previous.parameter_type
        key = None
        if parameter_type == "SecureString":
            reference = keyid or (previous.keyid if previous is not None and keyid is None else None) or _DEFAULT_KEY
            key = find_key(self.account_id, self.region_name, reference)
            if key is None:
                raise InvalidKeyId("NotFoundException", f"Key '{reference}' does not exist")
            refused = refusal(key)
            if refused:
                raise InvalidKeyId(*refused)
        parameter = original(self, name, description, value, parameter_type, allowed_pattern, keyid, *args, **kwargs)
        if key is not None:
            setattr(parameter, VERSION_KEY, key.arn)
        return parameter
    return put_parameter


def _response_object(original):
    @functools.wraps(original)
    def response_object(self, decrypt=False, region=None):
        key_arn = getattr(self, VERSION_KEY, None)
        if decrypt and self.parameter_type == "SecureString" and key_arn:
            key = find_key(self.account_id, key_arn.split(":")[3], key_arn)
            refused = refusal(key) if key is not None else None
            if refused:
                raise InvalidKeyId(*refused)
        return original(self, decrypt, region)
    return response_object


def install():
    global _installed
    if _installed:
        return
    backend = ssm_models.SimpleSystemManagerBackend
    backend.put_parameter = _put_parameter(backend.put_parameter)
    ssm_models.Parameter.response_object = _response_object(ssm_models.Parameter.response_object)
    _installed = True
