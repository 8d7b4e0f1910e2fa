# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_key_rotation: how a KMS key can rotate, and the in-place rotation actions KMS offers.

Who manages a key and where its material comes from decide the rotation:
- symmetric keys with KMS-made material rotate automatically (same key id, no
  re-encryption) or on demand;
- imported material rotates on demand only once new material is imported
  and pending rotation;
- asymmetric and HMAC keys and keys in a custom key store (CloudHSM or
  external) never rotate in place: a new key and re-encryption is the way;
- AWS-managed keys rotate every year by themselves and can never be
  disabled: taking control means re-keying the data to a customer key.

describe_key_rotation() is also how the kms_rotation inventory plugin reads
each key.
"""

import datetime

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dates import iso_date, plain
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED, UNSUPPORTED
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.aliases import list_aliases
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver

AUTOMATIC = "automatic"
ON_DEMAND = "on_demand"
REKEY = "rekey"
NONE = "none"

MIN_ROTATION_PERIOD_DAYS = 90
MAX_ROTATION_PERIOD_DAYS = 2560
CUSTOM_KEY_STORE_ORIGINS = ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")
_ROLE = "the kmsrotate.aws.rotation role (new key, re-encrypt the data, then retire this one)"


class KeyRotationSpec(Spec):
    """kms_key_rotation's options: the key, and the rotation wanted (None leaves it as it is)."""

    FIELDS = {
        "key_id": None,
        "enable_automatic_rotation": None,
        "rotation_period_days": None,
        "rotate_on_demand": False,
        "on_demand_min_age_days": None,
    }
    RANGES = {"rotation_period_days": (MIN_ROTATION_PERIOD_DAYS, MAX_ROTATION_PERIOD_DAYS, "KMS")}


def _cannot_rotate_in_place(facts):
    """Why KMS can never rotate this key's material in place, or None."""
    if facts["key_manager"] == "AWS":
        return "it is an AWS managed key"
    if facts["custom_key_store_id"] or facts["origin"] in CUSTOM_KEY_STORE_ORIGINS:
        return "it is in custom key store {0} ({1})".format(facts["custom_key_store_id"], facts["origin"])
    if facts["key_usage"] == "GENERATE_VERIFY_MAC":
        return "it is an HMAC key ({0})".format(facts["key_spec"])
    if facts["key_spec"] != "SYMMETRIC_DEFAULT" or facts["key_usage"] != "ENCRYPT_DECRYPT":
        return "it is an asymmetric key ({0}, {1})".format(facts["key_spec"], facts["key_usage"])
    return None


def choose_strategy(facts):
    """(strategy, one-line reason) for a key described by describe_key_rotation."""
    if facts["key_manager"] == "AWS":
        return NONE, ("AWS managed key: AWS rotates it every year and it can never be disabled; to take control, "
                      "re-key its data to a customer managed key with " + _ROLE)
    if facts["key_manager"] != "CUSTOMER":
        return NONE, "{0} key: its owner rotates it; nothing to do here".format(facts["key_manager"])
    if facts["key_state"] == "PendingDeletion":
        return NONE, "key is pending deletion: cancel the deletion (CancelKeyDeletion) before planning any rotation"
    reason = _cannot_rotate_in_place(facts)
    if reason:
        return REKEY, "KMS cannot rotate this key in place because {0}: use {1}".format(reason, _ROLE)
    if facts["multi_region_key_type"] == "REPLICA":
        return AUTOMATIC, ("multi-Region replica: rotation is set on its primary key {0} and follows it "
                           "here".format(facts["primary_key_arn"]))
    if facts["origin"] == "EXTERNAL":
        if facts["pending_key_material"]:
            return ON_DEMAND, "imported key material with new material pending rotation: rotate on demand now"
        return REKEY, ("imported key material cannot rotate automatically and has no new material pending: "
                       "import new key material (ImportType NEW_KEY_MATERIAL) to rotate on demand, or use " + _ROLE)
    if facts["rotation_enabled"]:
        return AUTOMATIC, "automatic rotation is on, every {0} days: nothing to do".format(facts["rotation_period_days"])
    return AUTOMATIC, "symmetric key with KMS key material: enable automatic rotation with a period of {0}-{1} days".format(
        MIN_ROTATION_PERIOD_DAYS, MAX_ROTATION_PERIOD_DAYS)


def _rotation_status(kms, facts):
    try:
        return kms.get_key_rotation_status(KeyId=facts["key_arn"], aws_retry=True)
    except ClientError as exc:
        if is_error(exc, UNSUPPORTED):
            # Keys KMS cannot rotate (asymmetric, HMAC, custom key store).
            return {"KeyRotationEnabled": False}
        if is_error(exc, ACCESS_DENIED):
            raise RotationError("Access denied to GetKeyRotationStatus.", resource=facts["key_arn"],
                                fix="grant kms:GetKeyRotationStatus on this key to the caller.")
        raise


def _rotations(kms, facts):
    """Completed rotations (oldest first) and whether new imported material waits."""
    if facts["key_manager"] != "CUSTOMER" or _cannot_rotate_in_place(facts):
        return [], False
    params = {"KeyId": facts["key_arn"]}
    if facts["origin"] == "EXTERNAL":
        params["IncludeKeyMaterial"] = "ALL_KEY_MATERIAL"
    completed = []
    pending = False
    try:
        for entry in items(kms, "list_key_rotations", "Rotations", **params):
            if entry.get("KeyMaterialState") == "PENDING_ROTATION":
                pending = True
            elif entry.get("RotationDate"):
                completed.append(plain(camel_dict_to_snake_dict(entry)))
    except ClientError as exc:
        if not is_error(exc, UNSUPPORTED):
            raise
    completed.sort(key=lambda rotation: str(rotation.get("rotation_date")))
    return completed, pending


def _aliases(kms, key_arn):
    return sorted(alias["AliasName"] for alias in list_aliases(kms, key_arn))


def describe_key_rotation(kms, resolver, key_ref):
    """Everything that decides how this key rotates, with the chosen strategy."""
    info = resolver.resolve(key_ref)
    metadata = info.metadata
    multi_region = metadata.get("MultiRegionConfiguration") or {}
    facts = {
        "key_arn": info.arn,
        "key_id": info.key_id,
        "region": info.region,
        "account": info.account,
        "key_state": info.state,
        "key_manager": info.key_manager,
        "origin": info.origin,
        "key_spec": info.key_spec,
        "key_usage": info.key_usage,
        "custom_key_store_id": info.custom_key_store_id,
        "description": info.description,
        "creation_date": iso_date(metadata.get("CreationDate")),
        "multi_region": info.multi_region,
        "multi_region_key_type": multi_region.get("MultiRegionKeyType"),
        "primary_key_arn": (multi_region.get("PrimaryKey") or {}).get("Arn"),
        "aliases": _aliases(kms, info.arn),
    }
    status = _rotation_status(kms, facts)
    facts.update({
        "rotation_enabled": bool(status.get("KeyRotationEnabled")),
        "rotation_period_days": status.get("RotationPeriodInDays"),
        "next_rotation_date": iso_date(status.get("NextRotationDate")),
        "on_demand_rotation_start_date": iso_date(status.get("OnDemandRotationStartDate")),
    })
    rotations, pending = _rotations(kms, facts)
    facts.update({
        "rotations": rotations,
        "last_rotation_date": rotations[-1]["rotation_date"] if rotations else None,
        "pending_key_material": pending,
    })
    facts["strategy"], facts["strategy_reason"] = choose_strategy(facts)
    return facts


def _refuse(facts, action, reason, fix):
    raise RotationError("Cannot {0}: {1}.".format(action, reason), resource=facts["key_arn"], fix=fix)


def require_rotatable(facts, action, automatic):
    """Raise a RotationError naming why KMS cannot do `action` on this key."""
    if facts["key_manager"] == "AWS":
        _refuse(facts, action, "it is an AWS managed key, which AWS rotates every year and nobody can change",
                "re-key its data to a customer managed key with " + _ROLE + ".")
    reason = _cannot_rotate_in_place(facts)
    if reason:
        _refuse(facts, action, reason, "use " + _ROLE + ".")
    if facts["key_state"] == "PendingDeletion":
        _refuse(facts, action, "the key is pending deletion", "cancel the deletion (aws kms cancel-key-deletion) first.")
    if facts["key_state"] != "Enabled":
        _refuse(facts, action, "the key is {0}".format(facts["key_state"]), "enable the key (aws kms enable-key) first.")
    if facts["multi_region_key_type"] == "REPLICA":
        _refuse(facts, action, "it is a multi-Region replica key; rotation is managed on its primary key {0}".format(
            facts["primary_key_arn"]), "run this on the primary key {0}.".format(facts["primary_key_arn"]))
    if automatic and facts["origin"] == "EXTERNAL":
        _refuse(facts, action, "the key has imported key material, which KMS cannot rotate automatically",
                "import new key material (ImportType NEW_KEY_MATERIAL) and use rotate_on_demand, or use " + _ROLE + ".")
    if not automatic and facts["origin"] == "EXTERNAL" and not facts["pending_key_material"]:
        _refuse(facts, action, "the key has imported key material and no new material is pending rotation",
                "import new key material (ImportType NEW_KEY_MATERIAL) first.")


def _material_age_days(facts, now):
    newest = facts["last_rotation_date"] or facts["creation_date"]
    if not newest:
        return None
    when = datetime.datetime.fromisoformat(str(newest))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return (now - when).total_seconds() / 86400.0


def plan_rotation_changes(facts, spec, now=None):
    """The KMS calls needed to reach the state a KeyRotationSpec wants: a list of (action, params)."""
    period = spec.rotation_period_days
    # A relation between values that an argument spec cannot say: required_by would only ask that
    # enable_automatic_rotation be given, not that it be true.
    if period is not None and spec.enable_automatic_rotation is not True:
        raise RotationError("rotation_period_days needs enable_automatic_rotation: true.", resource=facts["key_arn"],
                            fix="set enable_automatic_rotation: true or drop rotation_period_days.")
    actions = []
    if spec.enable_automatic_rotation is True:
        wrong_period = period is not None and period != facts["rotation_period_days"]
        if not facts["rotation_enabled"] or wrong_period:
            require_rotatable(facts, "enable automatic rotation", automatic=True)
            params = {"KeyId": facts["key_arn"]}
            if period is not None:
                params["RotationPeriodInDays"] = period
            actions.append(("enable_automatic_rotation", params))
    elif spec.enable_automatic_rotation is False and facts["rotation_enabled"]:
        require_rotatable(facts, "disable automatic rotation", automatic=True)
        actions.append(("disable_automatic_rotation", {"KeyId": facts["key_arn"]}))
    if spec.rotate_on_demand:
        require_rotatable(facts, "rotate on demand", automatic=False)
        age = _material_age_days(facts, now or datetime.datetime.now(datetime.timezone.utc))
        min_age = spec.on_demand_min_age_days
        recent = min_age is not None and age is not None and age < min_age
        if not facts["on_demand_rotation_start_date"] and not recent:
            actions.append(("rotate_on_demand", {"KeyId": facts["key_arn"]}))
    return actions


_KMS_CALLS = {
    "enable_automatic_rotation": "enable_key_rotation",
    "disable_automatic_rotation": "disable_key_rotation",
    "rotate_on_demand": "rotate_key_on_demand",
}


def _diff_view(facts):
    view = dict((name, facts[name]) for name in ("rotation_enabled", "rotation_period_days", "last_rotation_date"))
    view["rotation_count"] = len(facts["rotations"])
    return view


def _predicted(facts, actions):
    """What describe_key_rotation would say after the actions (for check mode)."""
    after = dict(facts, rotations=list(facts["rotations"]))
    for action, params in actions:
        if action == "enable_automatic_rotation":
            after["rotation_enabled"] = True
            after["rotation_period_days"] = params.get("RotationPeriodInDays") or facts["rotation_period_days"] or 365
        elif action == "disable_automatic_rotation":
            after.update(rotation_enabled=False, rotation_period_days=None, next_rotation_date=None)
        else:
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            after["rotations"].append({"rotation_date": now, "rotation_type": "ON_DEMAND"})
            after.update(last_rotation_date=now, pending_key_material=False)
    after["strategy"], after["strategy_reason"] = choose_strategy(after)
    return after


class KeyRotation(Engine):
    """Bring the key's rotation to the state the spec wants; kms_key_rotation's whole job.

    The values are the key's facts after the run (predicted, in check mode),
    `changed` and `actions`; the diff is the rotation before and after.
    """

    SPEC = KeyRotationSpec

    def run(self, spec, check_mode=False):
        kms = self.clients("kms")
        resolver = KeyResolver(kms)
        before = describe_key_rotation(kms, resolver, spec.key_id)
        actions = plan_rotation_changes(before, spec)
        if check_mode or not actions:
            after = _predicted(before, actions)
        else:
            for action, params in actions:
                getattr(kms, _KMS_CALLS[action])(aws_retry=True, **params)
            after = describe_key_rotation(kms, resolver, before["key_arn"])
        values = dict(after)
        values.update(changed=bool(actions), actions=[action for action, _params in actions])
        return Result(values, diff={"before": _diff_view(before), "after": _diff_view(after)})
