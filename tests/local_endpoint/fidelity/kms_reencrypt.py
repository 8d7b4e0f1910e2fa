"""KMS ReEncrypt as other emulators answer it, behind a switch (off by default: AWS and moto accept it).

- `kms_reencrypt_requires_source_key_id`: a ReEncrypt without SourceKeyId
  answers HTTP 500 InternalError, as LocalStack does ("exception while calling
  kms.ReEncrypt"), whatever the blob. AWS accepts such a call for a blob under
  a symmetric key and reads the key from the blob; with the switch on, a
  client that retries every 5xx spends minutes on each blob, which is what
  kms_data_key_rewrap must not do.
"""

import functools

from moto.core.exceptions import JsonRESTError
from moto.kms import responses as kms_responses

from . import SETTINGS

REQUIRES_SOURCE_KEY_ID = "kms_reencrypt_requires_source_key_id"
_installed = False


class InternalError(JsonRESTError):
    code = 500

    def __init__(self):
        super().__init__("InternalError", "exception while calling kms.ReEncrypt: 'SourceKeyId'")


def _patch_re_encrypt(original):
    @functools.wraps(original)
    def re_encrypt(self):
        if SETTINGS.enabled(REQUIRES_SOURCE_KEY_ID) and not self._get_param("SourceKeyId"):
            raise InternalError()
        return original(self)
    return re_encrypt


def install():
    global _installed
    if _installed:
        return
    SETTINGS.declare(REQUIRES_SOURCE_KEY_ID, False)
    response = kms_responses.KmsResponse
    response.re_encrypt = _patch_re_encrypt(response.re_encrypt)
    _installed = True
