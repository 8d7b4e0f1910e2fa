"""ebs_kms_migrate's argument rules: what the module refuses before any AWS call."""

import pytest

_KEY = {"destination_key_id": "alias/new"}


@pytest.fixture
def validate(module_arguments):
    return module_arguments("ebs_kms_migrate")


def test_no_volumes_or_snapshots_named_is_refused(validate):
    errors = validate(_KEY)
    assert errors == ["one of the following is required: volume_ids, filters, snapshot_ids, snapshot_filters"]


@pytest.mark.parametrize("scope", [{"volume_ids": ["vol-0123456789abcdef0"]}, {"filters": {"tag:env": "prod"}},
                                   {"snapshot_ids": ["snap-0123456789abcdef0"]},
                                   {"snapshot_filters": {"tag:backup": "nightly"}}])
def test_any_one_way_of_naming_volumes_or_snapshots_is_enough(validate, scope):
    assert validate(dict(_KEY, **scope)) == []


@pytest.mark.parametrize("option", ["source_volume", "source_snapshot"])
def test_a_source_is_kept_or_deleted_and_nothing_else(validate, option):
    errors = validate(dict(_KEY, volume_ids=["vol-0123456789abcdef0"], **{option: "archive"}))
    assert len(errors) == 1 and errors[0].startswith("value of {0} must be one of: keep, delete".format(option))
