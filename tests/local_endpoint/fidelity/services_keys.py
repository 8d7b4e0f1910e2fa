"""The KMS key a service's request names, as the services this project re-keys look it up.

Shared by the services_* fidelity modules: a service that stores a key
reference (an id, an alias or an ARN) resolves it in its own account and
region when the request is made, and AWS refuses a key that does not exist
there; a service that decrypts stored data refuses it when the key is not
Enabled, with the state in KMS's words (kms.py).

Nothing to patch here: install() is the package's contract.
"""

from moto.kms import kms_backends

from .kms import _STATE_WORDS


def find_key(account_id, region, key_ref):
    """The moto Key that key_ref (id, ARN, alias name or alias ARN) names in that account and region, or None."""
    if not key_ref:
        return None
    if key_ref.startswith("arn:"):
        parts = key_ref.split(":", 5)
        if len(parts) < 6 or parts[2] != "kms" or parts[3] != region or parts[4] != account_id:
            return None
    backend = kms_backends[account_id][region]
    try:
        key_id = backend.any_id_to_key_id(key_ref)
    except (KeyError, TypeError, AttributeError):
        return None
    return backend.keys.get(key_id)


def refusal(key):
    """(KMS's error code, its message) for a cryptographic operation under this key now, or None when it is Enabled."""
    if key.key_state == "Enabled":
        return None
    if key.key_state == "Disabled":
        return "DisabledException", f"{key.arn} is disabled."
    return "KMSInvalidStateException", f"{key.arn} is {_STATE_WORDS.get(key.key_state, key.key_state)}."


def install():
    """Nothing to patch: the other services_* modules use the helpers above."""
