"""Secrets Manager: the key each secret version is encrypted under, which moto 5.2.5 does not keep.

AWS encrypts each version's value when the version is created, under the
key the secret names then (its KmsKeyId, an alias resolved at that moment,
or `alias/aws/secretsmanager`). Here:

- every version records that key's ARN when it is created (CreateSecret,
  PutSecretValue, UpdateSecret with a value, RotateSecret);
- UpdateSecret with a new KmsKeyId re-encrypts, as AWS documents, only the
  versions labelled AWSCURRENT, AWSPENDING or AWSPREVIOUS: they record the
  new key; every other version (custom labels, or none) stays under the key
  it was written with;
- GetSecretValue of a version whose key is not Enabled fails as AWS's does,
  with DecryptionFailure ("Secrets Manager can't decrypt the protected
  secret text using the provided KMS key", the API reference's words) and
  KMS's reason: `<arn> is disabled.` (DisabledException) or
  `<arn> is pending deletion.` (KMSInvalidStateException). moto returns the
  value whatever the key's state, which hides exactly the data loss a key
  retirement causes.

No Secrets Manager API names a version's key; the control route
`secret-version-keys` ({"secret_id"}) answers {version id: key ARN} for
self-tests only.
"""

import functools

from moto.core.exceptions import JsonRESTError
from moto.secretsmanager import models as secretsmanager_models

from . import CONTROL_ROUTES
from .services_keys import find_key, refusal

_installed = False
# moto's account and the endpoint's region (local_endpoint.ACCOUNT_ID, REGION), unless a control call names others.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
# Where a version dict records the ARN of the key its value is encrypted under (None: not resolvable).
VERSION_KEY = "kmsrotate_key_arn"
# The labels UpdateSecret re-encrypts under a new key.
REENCRYPTED_STAGES = frozenset(["AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"])


class DecryptionFailure(JsonRESTError):
    code = 400

    def __init__(self, kms_code, kms_message):
        super().__init__("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the "
                         f"provided KMS key: {kms_message} ({kms_code})")


def _secret_key_arn(backend, secret):
    key = find_key(backend.account_id, backend.region_name, secret.kms_key_id or backend.DEFAULT_KMS_KEY_ALIAS)
    return key.arn if key is not None else None


def _stamp_new_versions(backend, secret_id):
    """Versions made by the call just served are under the key the secret names now."""
    secret = backend.secrets.get(secret_id) if secret_id else None
    if secret is None or not hasattr(secret, "versions"):
        return
    key_arn = _secret_key_arn(backend, secret)
    for version in secret.versions.values():
        version.setdefault(VERSION_KEY, key_arn)


def _making_versions(original, id_name):
    @functools.wraps(original)
    def method(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        _stamp_new_versions(self, kwargs.get(id_name, args[0] if args else None))
        return answer
    return method


def _update_secret(original):
    @functools.wraps(original)
    def update_secret(self, secret_id, *args, **kwargs):
        answer = original(self, secret_id, *args, **kwargs)
        _stamp_new_versions(self, secret_id)
        if kwargs.get("kms_key_id") is not None:
            secret = self.secrets[secret_id]
            key_arn = _secret_key_arn(self, secret)
            for version in secret.versions.values():
                if REENCRYPTED_STAGES.intersection(version["version_stages"]):
                    version[VERSION_KEY] = key_arn
        return answer
    return update_secret


def _get_secret_value(original):
    @functools.wraps(original)
    def get_secret_value(self, secret_id, version_id, version_stage):
        answer = original(self, secret_id, version_id, version_stage)
        version = self.secrets[secret_id].versions[answer["VersionId"]]
        key = find_key(self.account_id, self.region_name, version.get(VERSION_KEY))
        refused = refusal(key) if key is not None else None
        if refused:
            raise DecryptionFailure(*refused)
        return answer
    return get_secret_value


def _version_keys(_method, payload):
    backend = secretsmanager_models.secretsmanager_backends[payload.get("account_id", DEFAULT_ACCOUNT)][
        payload.get("region", DEFAULT_REGION)]
    secret = backend.secrets[payload["secret_id"]]
    return dict((version_id, version.get(VERSION_KEY)) for version_id, version in secret.versions.items())


def install():
    global _installed
    if _installed:
        return
    backend = secretsmanager_models.SecretsManagerBackend
    backend.create_secret = _making_versions(backend.create_secret, "name")
    backend.put_secret_value = _making_versions(backend.put_secret_value, "secret_id")
    backend.rotate_secret = _making_versions(backend.rotate_secret, "secret_id")
    backend.update_secret = _update_secret(backend.update_secret)
    backend.get_secret_value = _get_secret_value(backend.get_secret_value)
    CONTROL_ROUTES["secret-version-keys"] = _version_keys
    _installed = True
