"""KMS key rotation as AWS documents it, where moto 5.2 differs.

- AWS-managed keys (the `alias/aws/...` keys moto lists) are KeyManager AWS,
  and DescribeKey of the alias answers with the very key ListAliases names
  (moto makes up a CUSTOMER key with another id on first use).
- EnableKeyRotation, DisableKeyRotation and RotateKeyOnDemand refuse keys
  whose material KMS cannot rotate (asymmetric, HMAC, imported material for
  automatic rotation, AWS-managed, multi-Region replicas) with
  UnsupportedOperationException, a Disabled key with DisabledException and a
  key pending deletion with KMSInvalidStateException. EnableKeyRotation keeps
  RotationPeriodInDays (90-2560, default 365) and GetKeyRotationStatus
  returns it with NextRotationDate; an AWS-managed key reports rotation on.
- Imported key material rotates on demand only once new material was
  imported and is PENDING_ROTATION. moto has no ImportKeyMaterial, so the
  control route `kms-import-new-key-material` ({"key_id": ...}) stands in for
  it; ListKeyRotations with IncludeKeyMaterial=ALL_KEY_MATERIAL lists the
  pending material, and RotateKeyOnDemand makes it current.
- RotateKeyOnDemand allows 25 rotations per key (LimitExceededException).

GetKeyLastUsage is served by cloudtrail.py, from the log of KMS requests.
"""

import datetime
import functools
import json
import uuid

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.kms import models as kms_models
from moto.kms import responses as kms_responses
from moto.kms.exceptions import ValidationException
from moto.kms.utils import RESERVED_ALIASE_TARGET_KEY_IDS

from . import CONTROL_ROUTES
from .kms import DisabledException, KMSInvalidStateException

DEFAULT_ROTATION_PERIOD_DAYS = 365
MAX_ON_DEMAND_ROTATIONS = 25
_installed = False


class UnsupportedOperationException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("UnsupportedOperationException", message)


class LimitExceededException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("LimitExceededException", message)


def _primary_arn(key):
    if not key.multi_region:
        return None
    return key.multi_region_configuration["PrimaryKey"]["Arn"]


def _require_rotatable(key, automatic):
    """Raise what AWS raises when rotation is asked of this key."""
    if key.key_manager == "AWS":
        raise UnsupportedOperationException(f"{key.arn} is an AWS managed key; AWS rotates it every year.")
    if key.key_spec != "SYMMETRIC_DEFAULT" or key.key_usage != "ENCRYPT_DECRYPT":
        raise UnsupportedOperationException(
            f"{key.arn} is a {key.key_spec} {key.key_usage} key; only symmetric encryption keys rotate.")
    if automatic and key.origin == "EXTERNAL":
        raise UnsupportedOperationException(f"{key.arn} has imported key material, which cannot rotate automatically.")
    primary = _primary_arn(key)
    if primary and primary != key.arn:
        raise UnsupportedOperationException(f"{key.arn} is a multi-Region replica key; rotate its primary key {primary}.")
    if key.key_state == "Disabled":
        raise DisabledException(key.arn)
    if key.key_state != "Enabled":
        raise KMSInvalidStateException(key.arn, key.key_state)


def _key(response):
    backend = response.kms_backend
    key_id = response._get_param("KeyId")  # pylint: disable=protected-access
    response._validate_key_id(key_id)  # pylint: disable=protected-access
    return backend.keys[backend.any_id_to_key_id(key_id)]


def _enable_key_rotation(self):
    key = _key(self)
    period = self._get_param("RotationPeriodInDays")
    if period is not None and not 90 <= int(period) <= 2560:
        raise ValidationException(
            f"1 validation error detected: Value '{period}' at 'rotationPeriodInDays' "
            "failed to satisfy constraint: Member must have value between 90 and 2560")
    _require_rotatable(key, automatic=True)
    key.key_rotation_status = True
    key.rotation_period_in_days = int(period) if period is not None else getattr(
        key, "rotation_period_in_days", None) or DEFAULT_ROTATION_PERIOD_DAYS
    key.next_rotation_date = unix_time(
        datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        + datetime.timedelta(days=key.rotation_period_in_days))
    return json.dumps(None)


def _disable_key_rotation(self):
    key = _key(self)
    _require_rotatable(key, automatic=True)
    key.key_rotation_status = False
    return json.dumps(None)


def _get_key_rotation_status(self):
    key = _key(self)
    answer = {"KeyId": key.arn, "KeyRotationEnabled": bool(key.key_rotation_status)}
    if key.key_manager == "AWS":
        answer.update(KeyRotationEnabled=True, RotationPeriodInDays=DEFAULT_ROTATION_PERIOD_DAYS)
    elif key.key_rotation_status:
        answer["RotationPeriodInDays"] = getattr(key, "rotation_period_in_days", DEFAULT_ROTATION_PERIOD_DAYS)
        if getattr(key, "next_rotation_date", None):
            answer["NextRotationDate"] = key.next_rotation_date
    return json.dumps(answer)


def _rotate_key_on_demand(self):
    key = _key(self)
    _require_rotatable(key, automatic=False)
    pending = getattr(key, "pending_key_material_id", None)
    if key.origin == "EXTERNAL" and not pending:
        raise UnsupportedOperationException(
            f"{key.arn} has imported key material and no new key material in PENDING_ROTATION state; "
            "import new key material (ImportType NEW_KEY_MATERIAL) first.")
    if len(key.rotations) >= MAX_ON_DEMAND_ROTATIONS:
        raise LimitExceededException(f"{key.arn} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.")
    rotation = {"KeyId": key.id, "RotationDate": unix_time(), "RotationType": "ON_DEMAND"}
    if pending:
        rotation.update(KeyMaterialId=pending, ImportState="IMPORTED", KeyMaterialState="CURRENT")
        key.pending_key_material_id = None
    key.rotations.append(rotation)
    return json.dumps({"KeyId": key.id})


def _list_key_rotations(original):
    @functools.wraps(original)
    def list_key_rotations(self):
        answer = json.loads(original(self))
        if self._get_param("IncludeKeyMaterial") == "ALL_KEY_MATERIAL":
            key = _key(self)
            pending = getattr(key, "pending_key_material_id", None)
            if pending:
                answer["Rotations"].append({"KeyId": key.id, "KeyMaterialId": pending, "ImportState": "IMPORTED",
                                            "KeyMaterialState": "PENDING_ROTATION"})
        return json.dumps(answer)
    return list_key_rotations


def _generate_aws_managed_key(self, alias_name):
    target_key_id = RESERVED_ALIASE_TARGET_KEY_IDS.get(alias_name)
    if target_key_id is None:
        return None
    service = alias_name.rsplit("/", 1)[-1]
    key = kms_models.Key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT",
                         f"Default key that protects my {service} data when no other key is defined",
                         self.account_id, self.region_name)
    key.id = target_key_id
    key.arn = f"{key.arn.rsplit('/', 1)[0]}/{target_key_id}"
    key.key_manager = "AWS"
    key.key_rotation_status = True
    self.keys[key.id] = key
    self.create_alias(key.id, alias_name)
    return key.id


def import_new_key_material(_method, payload):
    """Control route: new imported material for an EXTERNAL key, pending rotation."""
    region = payload.get("region", "us-east-1")
    account = payload.get("account", "123456789012")
    backend = kms_models.kms_backends[account][region]
    key = backend.keys[backend.any_id_to_key_id(payload["key_id"])]
    if key.origin != "EXTERNAL":
        raise ValueError(f"{key.arn} does not have imported key material (origin {key.origin})")
    key.pending_key_material_id = uuid.uuid4().hex
    return {"KeyId": key.id, "KeyMaterialId": key.pending_key_material_id, "KeyMaterialState": "PENDING_ROTATION"}


def install():
    global _installed
    if _installed:
        return
    response = kms_responses.KmsResponse
    response.enable_key_rotation = _enable_key_rotation
    response.disable_key_rotation = _disable_key_rotation
    response.get_key_rotation_status = _get_key_rotation_status
    response.rotate_key_on_demand = _rotate_key_on_demand
    response.list_key_rotations = _list_key_rotations(response.list_key_rotations)
    backend = kms_models.KmsBackend
    backend._generate_default_keys = _generate_aws_managed_key  # pylint: disable=protected-access
    CONTROL_ROUTES["kms-import-new-key-material"] = import_new_key_material
    _installed = True
