"""KMS as AWS documents it, where moto 5.2 differs.

- Cryptographic operations (Encrypt, Decrypt, ReEncrypt on either side,
  GenerateDataKey*) refuse a Disabled key with DisabledException and a key in
  any other non-Enabled state (PendingDeletion, PendingImport...) with
  KMSInvalidStateException. moto happily uses such keys, which would hide
  exactly the data loss this project exists to prevent.
- ReEncrypt (and Decrypt) given a SourceKeyId/KeyId that is not the key the
  blob was encrypted under fail with IncorrectKeyException.
- DisableKey, EnableKey, ScheduleKeyDeletion and CancelKeyDeletion accept a
  key ARN, and an unknown key is NotFoundException rather than a server error.
- ScheduleKeyDeletion with PendingWindowInDays outside 7-30 is a
  ValidationException (moto answers 200 and changes nothing).
- A key created without KeyUsage reports KeyUsage ENCRYPT_DECRYPT, AWS's
  default (moto leaves it out of DescribeKey).
"""

import functools

from moto.core.exceptions import JsonRESTError
from moto.kms import models as kms_models
from moto.kms import responses as kms_responses
from moto.kms.exceptions import NotFoundException, ValidationException

_installed = False


class DisabledException(JsonRESTError):
    code = 400

    def __init__(self, arn):
        super().__init__("DisabledException", f"{arn} is disabled.")


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, arn, state):
        super().__init__("KMSInvalidStateException", f"{arn} is {_STATE_WORDS.get(state, state)}.")


class IncorrectKeyException(JsonRESTError):
    code = 400

    def __init__(self):
        super().__init__("IncorrectKeyException",
                         "The key ID in the request does not identify a CMK that can perform this operation.")


_STATE_WORDS = {"PendingDeletion": "pending deletion", "PendingImport": "pending import",
                "Unavailable": "unavailable", "Creating": "being created", "Updating": "being updated"}


def _require_usable(key):
    """Raise what AWS raises when a cryptographic operation names this key."""
    if key.key_state == "Enabled":
        return
    if key.key_state == "Disabled":
        raise DisabledException(key.arn)
    raise KMSInvalidStateException(key.arn, key.key_state)


def _known_key(backend, key_id):
    raw = backend.get_key_id(key_id)
    if raw not in backend.keys:
        raise NotFoundException(f"Key '{key_id}' does not exist")
    return raw


def _patch_encrypt(original):
    @functools.wraps(original)
    def encrypt(self, key_id, plaintext, encryption_context):
        _require_usable(self.keys[self.any_id_to_key_id(key_id)])
        return original(self, key_id, plaintext, encryption_context)
    return encrypt


def _patch_decrypt(original):
    @functools.wraps(original)
    def decrypt(self, ciphertext_blob, encryption_context, key_id=None):
        plaintext, arn = original(self, ciphertext_blob, encryption_context)
        key = self.keys[self.get_key_id(arn)]
        if key_id is not None and self.any_id_to_key_id(key_id) != key.id:
            raise IncorrectKeyException()
        _require_usable(key)
        return plaintext, arn
    return decrypt


def _patch_re_encrypt_response(original):
    @functools.wraps(original)
    def re_encrypt(self):
        source_key_id = self._get_param("SourceKeyId")
        if source_key_id:
            # Decrypting with the named source key checks both that it is the
            # blob's key and that it is usable, before anything is encrypted.
            self.kms_backend.decrypt(
                ciphertext_blob=self._get_param("CiphertextBlob"),
                encryption_context=self._get_param("SourceEncryptionContext", {}),
                key_id=source_key_id,
            )
        return original(self)
    return re_encrypt


def _patch_key_state_change(original):
    @functools.wraps(original)
    def change(self, key_id, *args, **kwargs):
        return original(self, _known_key(self, key_id), *args, **kwargs)
    return change


def _patch_schedule_key_deletion(original):
    @functools.wraps(original)
    def schedule_key_deletion(self, key_id, pending_window_in_days):
        if not 7 <= int(pending_window_in_days) <= 30:
            raise ValidationException(
                f"1 validation error detected: Value '{pending_window_in_days}' at 'pendingWindowInDays' "
                "failed to satisfy constraint: Member must have value between 7 and 30")
        return original(self, _known_key(self, key_id), pending_window_in_days)
    return schedule_key_deletion


def _patch_key_init(original):
    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.key_usage is None:
            self.key_usage = "ENCRYPT_DECRYPT"
    return __init__


def install():
    global _installed
    if _installed:
        return
    kms_models.Key.__init__ = _patch_key_init(kms_models.Key.__init__)
    backend = kms_models.KmsBackend
    backend.encrypt = _patch_encrypt(backend.encrypt)
    backend.decrypt = _patch_decrypt(backend.decrypt)
    for name in ("disable_key", "enable_key", "cancel_key_deletion"):
        setattr(backend, name, _patch_key_state_change(getattr(backend, name)))
    backend.schedule_key_deletion = _patch_schedule_key_deletion(backend.schedule_key_deletion)
    response = kms_responses.KmsResponse
    response.re_encrypt = _patch_re_encrypt_response(response.re_encrypt)
    _installed = True
