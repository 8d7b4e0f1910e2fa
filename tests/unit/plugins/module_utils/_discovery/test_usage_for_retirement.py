"""kms_key_usage_info as a rotation's retirement gate: discovery on moto, merged with the re-checks' dependents."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import UsageSpec


def _volume(clients, key):
    return clients("ec2").create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True,
                                        KmsKeyId=key["Arn"])["VolumeId"]


def test_a_volume_its_recheck_retained_lets_the_key_go(clients, discover, key):
    volume_id = _volume(clients, key)
    retained = dependent(volume_id, "ebs_volumes", "retained", "replaced by vol-new; kept as asked", key_arn=key["Arn"])
    result = discover(key["KeyId"], services=["ebs_volumes"], for_retirement=True, known_dependents=[retained],
                      targets=[volume_id])
    assert result["safe_to_retire"] and result["holding_back"] == []
    assert [entry["kind"] for entry in result["dependents"]] == ["retained"]
    # Plain discovery of the same estate holds the key: the volume is under it.
    assert not discover(key["KeyId"], services=["ebs_volumes"])["safe_to_retire"]


@pytest.mark.parametrize("check_mode, safe", [(True, True), (False, False)])
def test_a_target_found_under_the_key_is_the_rotations_to_move(engine, clients, key, check_mode, safe):
    volume_id = _volume(clients, key)
    spec = UsageSpec(key_id=key["KeyId"], services=["ebs_volumes"], for_retirement=True, targets=[volume_id])
    result = engine.run(spec, check_mode=check_mode).values
    assert result["safe_to_retire"] is safe
    assert result["dependents"][0]["planned"] is True


def test_a_volume_outside_the_targets_holds_the_key_in_check_mode_too(engine, clients, key):
    volume_id = _volume(clients, key)
    spec = UsageSpec(key_id=key["KeyId"], services=["ebs_volumes"], for_retirement=True, targets=["vol-other"])
    result = engine.run(spec, check_mode=True).values
    assert [entry["resource"] for entry in result["holding_back"]] == [volume_id]


def test_rotation_inputs_without_for_retirement_are_refused(discover, key):
    with pytest.raises(RotationError, match="for_retirement"):
        discover(key["KeyId"], targets=["s3://data"])


def test_ignored_services_do_not_hold_plain_discovery_either(clients, discover, key):
    _volume(clients, key)
    result = discover(key["KeyId"], services=["ebs_volumes"], ignore_services=["ebs_volumes"])
    assert result["safe_to_retire"] and result["dependents"] == []
    assert result["services"]["ebs_volumes"]["count"] == 1
