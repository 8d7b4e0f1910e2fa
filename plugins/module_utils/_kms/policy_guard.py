# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_key_policy_guard: a key policy statement that refuses retiring a key still in use.

One statement, always under the same Sid, denies the chosen retirement
actions to everyone while the key's kms:TrailingDaysWithoutKeyUsage (whole
days since its last successful cryptographic use) is below N. An explicit
Deny wins over every Allow, the account's root and administrators
included, so nobody disables or deletes the key by hand while something
still uses it; PutKeyPolicy is not denied, so the statement can always be
removed again. Policies are compared parsed, never as text, so a rerun
changes nothing however KMS formats the document.
"""

import copy
import json

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver

GUARD_SID = "kmsrotate-retirement-guard"
CONDITION_KEY = "kms:TrailingDaysWithoutKeyUsage"
# The actions the guard can deny (kms_key_policy_guard's `actions` choices).
GUARDED_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")
STATES = ("present", "absent")
# KMS keys have exactly one key policy, under this name.
POLICY_NAME = "default"


class PolicyGuardSpec(Spec):
    """kms_key_policy_guard's options."""

    FIELDS = {
        "key_id": None,
        "state": "present",
        "days": None,
        "actions": ["kms:ScheduleKeyDeletion"],
    }
    RANGES = {"days": (1, None)}


def guard_statement_for(days, actions):
    """The statement the guard puts into a key policy."""
    ordered = [action for action in GUARDED_ACTIONS if action in actions]
    return {
        "Sid": GUARD_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": ordered[0] if len(ordered) == 1 else ordered,
        "Resource": "*",
        "Condition": {"NumericLessThan": {CONDITION_KEY: str(days)}},
    }


def _statements(policy):
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _normalised(statement):
    """A statement in a form where equal meaning compares equal (one action or a list of them, numbers or text)."""
    if statement is None:
        return None
    result = copy.deepcopy(statement)
    result["Action"] = sorted(guarded_actions(result))
    for tests in result.get("Condition", {}).values():
        for name, value in tests.items():
            tests[name] = [str(item) for item in value] if isinstance(value, list) else str(value)
    return result


def read_policy(kms, key_arn):
    """The key's policy, parsed."""
    return json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName=POLICY_NAME, aws_retry=True)["Policy"])


def guard_statement(policy):
    """The guard's statement in a parsed key policy, or None."""
    return next((statement for statement in _statements(policy) if statement.get("Sid") == GUARD_SID), None)


def guarded_actions(statement):
    """The actions a guard statement denies, as a list."""
    actions = statement.get("Action", [])
    return actions if isinstance(actions, list) else [actions]


def guarded_days(statement):
    """The N of a guard statement: the days without use it waits for."""
    return int(statement["Condition"]["NumericLessThan"][CONDITION_KEY])


def with_guard(policy, statement):
    """The policy with the guard's statement replaced by `statement` (None: removed), other statements untouched."""
    result = copy.deepcopy(policy)
    others = [entry for entry in _statements(policy) if entry.get("Sid") != GUARD_SID]
    result["Statement"] = others + ([statement] if statement is not None else [])
    return result


class PolicyGuard(Engine):
    """Add or remove the retirement guard of one key's policy (see kms_key_policy_guard's RETURN)."""

    SPEC = PolicyGuardSpec

    def run(self, spec, check_mode=False):
        kms = self.clients("kms")
        key = KeyResolver(kms).resolve(spec.key_id)
        if key.key_manager != "CUSTOMER":
            raise RotationError("This key is managed by AWS; its key policy cannot be changed, and AWS never lets "
                                "anyone disable or delete it.",
                                resource=key.arn, fix="guard only customer-managed keys.")
        if spec.state == "present" and not spec.actions:
            raise RotationError("No action to deny was given.", resource=key.arn,
                                fix="name kms:ScheduleKeyDeletion and/or kms:DisableKey in actions.")
        before = read_policy(kms, key.arn)
        wanted = guard_statement_for(spec.days, spec.actions) if spec.state == "present" else None
        current = guard_statement(before)
        changed = _normalised(current) != _normalised(wanted)
        after = with_guard(before, wanted) if changed else before
        if changed and not check_mode:
            # No lockout risk to check: the guard never denies kms:PutKeyPolicy.
            kms.put_key_policy(KeyId=key.arn, PolicyName=POLICY_NAME, Policy=json.dumps(after), aws_retry=True)
        values = {
            "changed": changed,
            "key_arn": key.arn,
            "state": spec.state,
            "statement": wanted,
            "policy": after,
            "msg": _message(key.arn, spec, changed, check_mode),
        }
        diff = {"before": before, "after": after,
                "before_header": "{0} key policy".format(key.arn), "after_header": "{0} key policy".format(key.arn)}
        return Result(values, diff=diff)


def _message(key_arn, spec, changed, check_mode):
    verb = "would be" if check_mode else "is"
    if spec.state == "absent":
        if not changed:
            return "{0}: its key policy has no retirement guard.".format(key_arn)
        return "{0}: the retirement guard {1} removed.".format(key_arn, verb)
    denies = "it denies {0} to everyone while the key was used within the last {1} day(s)".format(
        " and ".join(action for action in GUARDED_ACTIONS if action in spec.actions), spec.days)
    if not changed:
        return "{0}: the retirement guard is already in place: {1}.".format(key_arn, denies)
    return "{0}: the retirement guard {1} set: {2}; state: absent removes it.".format(key_arn, verb, denies)
