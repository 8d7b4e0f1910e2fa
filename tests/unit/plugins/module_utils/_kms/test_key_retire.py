"""key_retire: disable or schedule deletion, idempotent, check mode, refusals."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_retire import KeyRetire, KeyRetireSpec


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def run(make_clients):
    """Run the engine as the module would: the values, with the diff under `diff` as --diff returns it."""
    def run(key_id, check_mode=False, **options):
        clients, limit = make_clients()
        result = KeyRetire(clients, limit).run(KeyRetireSpec(key_id=key_id, **options), check_mode=check_mode)
        return result.for_module(diff_wanted=True)
    return run


def state(kms, key):
    return kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]


def test_disable_is_idempotent_and_check_mode_changes_nothing(run, kms):
    key = kms.create_key()["KeyMetadata"]
    planned = run(key["Arn"], check_mode=True)
    assert planned["changed"] and planned["key_state"] == "Disabled"
    assert state(kms, key) == "Enabled"

    done = run(key["Arn"])
    assert done["changed"] and done["key_state_before"] == "Enabled" and done["key_state"] == "Disabled"
    assert "enable-key" in done["msg"]
    assert state(kms, key) == "Disabled"

    again = run(key["Arn"])
    assert not again["changed"] and again["key_state"] == "Disabled"


def test_schedule_deletion_reports_date_and_how_to_cancel(run, kms):
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    done = run(key["KeyId"], state="pending_deletion", pending_window_days=7)
    assert done["changed"] and done["key_state"] == "PendingDeletion"
    assert done["deletion_date"] and "cancel-key-deletion" in done["cancel_deletion"]
    assert state(kms, key) == "PendingDeletion"

    again = run(key["KeyId"], state="pending_deletion", pending_window_days=30)
    assert not again["changed"] and again["deletion_date"] == done["deletion_date"]
    # A key pending deletion already satisfies `disabled`; its deletion is never cancelled here.
    assert not run(key["KeyId"], state="disabled")["changed"]
    assert state(kms, key) == "PendingDeletion"


def test_refuses_aws_managed_key_and_bad_window(run, kms):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(RotationError, match="KMS accepts 7 to 30"):
        run(key["Arn"], state="pending_deletion", pending_window_days=3)
    aws_managed = next(a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3")
    with pytest.raises(RotationError, match="managed by AWS"):
        run(aws_managed["AliasName"])
