"""RotationError's message: what failed, on which resource, and the fix."""

from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError


def test_message_names_resource_and_fix():
    error = RotationError("KMS key not found.", resource="alias/old", fix="check the alias.")
    assert str(error) == "alias/old: KMS key not found. Fix: check the alias."
    assert error.as_result() == {"resource": "alias/old", "fix": "check the alias."}


def test_message_without_trailing_period_gets_one_before_the_fix():
    assert str(RotationError("Bad input", fix="do this.")) == "Bad input. Fix: do this."


def test_resource_already_in_message_is_not_repeated():
    error = RotationError("Bucket my-bucket does not exist.", resource="my-bucket")
    assert str(error) == "Bucket my-bucket does not exist."
