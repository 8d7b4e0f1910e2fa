"""kms_key_retire's argument rules: what the module refuses before the engine runs."""

import pytest


@pytest.fixture
def validate(module_arguments):
    return module_arguments("kms_key_retire")


def test_unknown_retirement_state_is_refused(validate):
    errors = validate({"key_id": "alias/old", "state": "deleted"})
    assert len(errors) == 1
    assert "state" in errors[0] and "disabled, pending_deletion" in errors[0]


@pytest.mark.parametrize("state", ["disabled", "pending_deletion"])
def test_known_retirement_states_are_accepted(validate, state):
    assert validate({"key_id": "alias/old", "state": state}) == []
