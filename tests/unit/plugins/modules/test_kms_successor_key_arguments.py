"""kms_successor_key's argument rules: what the module refuses before the engine runs, and what it must not."""

import pytest


@pytest.fixture
def validate(module_arguments):
    return module_arguments("kms_successor_key")


def test_a_destination_with_create_key_false_is_accepted(validate):
    # The rotation role passes create_key explicitly beside destination_key_id; the engine refuses only both set.
    assert validate({"source_key_id": "alias/app", "destination_key_id": "alias/app-2", "create_key": False}) == []


def test_the_source_key_is_required(validate):
    assert validate({"create_key": True}) == ["missing required arguments: source_key_id"]


def test_without_create_key_a_destination_is_required(validate):
    assert validate({"source_key_id": "alias/app"}) == [
        "create_key is False but all of the following are missing: destination_key_id"]
    assert validate({"source_key_id": "alias/app", "create_key": True}) == []
