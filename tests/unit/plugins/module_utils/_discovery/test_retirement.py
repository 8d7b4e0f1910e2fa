"""The retirement gate's decisions, case by case (the rules the role's Jinja template used to hold)."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.retirement import decide

KEY = "arn:aws:kms:us-east-1:123456789012:key/source"


def _dep(resource, service, kind, reason="why", count=1):
    return dependent(resource, service, kind, reason, key_arn=KEY, count=count)


def _held(answer):
    return [entry["resource"] for entry in answer["holding_back"]]


def test_nothing_known_and_nothing_found_is_safe():
    answer = decide([], [])
    assert answer["safe_to_retire"] and answer["dependents"] == [] and answer["holding_back"] == []


@pytest.mark.parametrize("check_mode, held", [(False, ["s3://data"]), (True, [])])
def test_what_a_recheck_would_still_move_holds_a_real_run_only(check_mode, held):
    known = [_dep("s3://data", "s3", "to_move", "object versions still under the source key", count=3)]
    answer = decide(known, [], check_mode=check_mode)
    assert _held(answer) == held
    assert answer["safe_to_retire"] is (not held)
    assert answer["dependents"][0]["planned"] is True


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize("kind", ["blocking", "unknown"])
def test_what_cannot_be_moved_or_read_always_holds(kind, check_mode):
    answer = decide([_dep("s3://data", "s3", kind, count=2)], [], check_mode=check_mode)
    assert _held(answer) == ["s3://data"] and not answer["safe_to_retire"]


def test_a_retained_volume_found_by_discovery_is_judged_by_its_recheck_and_does_not_hold():
    known = [_dep("vol-old", "ebs_volumes", "retained", "replaced by vol-new; kept as asked (source_volume=keep)")]
    found = [_dep("vol-old", "ebs_volumes", "to_move", "ebs_volumes ebs_volume uses the key")]
    answer = decide(known, found, targets=["vol-old"])
    assert answer["safe_to_retire"]
    assert [entry["kind"] for entry in answer["dependents"]] == ["retained"]
    assert answer["dependents_by_kind"] == {"to_move": 0, "blocking": 0, "unknown": 0, "retained": 1}


@pytest.mark.parametrize("check_mode, held", [(False, ["s3://data"]), (True, [])])
def test_a_target_found_by_discovery_without_a_recheck_is_this_rotations_to_move(check_mode, held):
    # Check mode before the key phase: no destination yet, so the S3 phase could not re-check the bucket.
    found = [_dep("s3://data", "s3", "to_move", "s3 s3_bucket_default_encryption uses the key")]
    answer = decide([], found, targets=["s3://data"], check_mode=check_mode)
    assert _held(answer) == held
    assert answer["dependents"][0]["reason"].endswith("a phase of this rotation moves it")


def test_data_key_files_found_by_discovery_are_always_this_rotations():
    found = [_dep("/etc/app/key.bin", "data_key_files", "to_move")]
    assert decide([], found, check_mode=True)["safe_to_retire"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_movable_resource_outside_the_targets_holds_even_in_check_mode(check_mode):
    found = [_dep("vol-elsewhere", "ebs_volumes", "to_move", "ebs_volumes ebs_volume uses the key")]
    answer = decide([], found, targets=["vol-target"], check_mode=check_mode)
    assert _held(answer) == ["vol-elsewhere"]
    assert answer["dependents"][0]["reason"].endswith("add it to this rotation's targets")
    assert answer["dependents"][0]["planned"] is False


def test_a_resource_this_collection_cannot_move_holds_with_its_procedure():
    found = [_dep("arn:aws:rds:us-east-1:123456789012:db:app", "rds_instances", "blocking", "rds_instances uses the key")]
    answer = decide([], found, check_mode=True)
    assert _held(answer) == ["arn:aws:rds:us-east-1:123456789012:db:app"]
    assert answer["dependents"][0]["reason"].endswith("move it with its own service's procedure")


def test_an_unreadable_service_holds_unless_ignored():
    found = [_dep("sqs", "sqs", "unknown", "could not be read: access denied"),
             _dep("grant-1", "grants", "blocking", "grants kms_grant uses the key")]
    assert _held(decide([], found)) == ["sqs", "grant-1"]
    assert decide([], found, ignore_services=["sqs", "grants"])["safe_to_retire"]


def test_an_unknown_service_holds_even_when_a_recheck_named_the_same_resource():
    known = [_dep("sqs", "sqs", "retained")]
    found = [_dep("sqs", "sqs", "unknown", "could not be read")]
    assert _held(decide(known, found)) == ["sqs"]


def test_the_volume_behind_a_snapshot_target_is_not_taken_as_rechecked():
    # The EBS re-check of a snapshot names its volume in its result; only the snapshot is its finding.
    known = [_dep("snap-1", "ebs_snapshots", "to_move", "a run copies it under the destination key")]
    found = [_dep("snap-1", "ebs_snapshots", "to_move"), _dep("vol-1", "ebs_volumes", "to_move")]
    answer = decide(known, found, targets=["snap-1"], check_mode=True)
    assert _held(answer) == ["vol-1"]


def test_each_dependent_gets_the_line_the_role_prints():
    answer = decide([_dep("s3://data", "s3", "blocking", "3 object versions are locked", count=3)], [])
    assert answer["dependents"][0]["line"] == "[blocking] s3://data: 3 - 3 object versions are locked"


def test_plain_discovery_plans_nothing_so_check_mode_holds_everything_found():
    found = [_dep("/etc/app/key.bin", "data_key_files", "to_move"), _dep("s3://data", "s3", "to_move")]
    answer = decide([], found, targets=["s3://data"], check_mode=True, rotation=False)
    assert _held(answer) == ["/etc/app/key.bin", "s3://data"]
    assert [entry["reason"] for entry in answer["dependents"]] == ["why", "why"]


def test_a_retained_volume_found_attached_blocks_in_check_mode_too():
    known = [_dep("vol-old", "ebs_volumes", "retained", "replaced by vol-new; kept as asked (source_volume=keep)")]
    found = [dict(_dep("vol-old", "ebs_volumes", "to_move", "ebs_volumes ebs_volume uses the key"),
                  attached_to=["i-1"])]
    answer = decide(known, found, targets=["vol-old"], check_mode=True)
    assert _held(answer) == ["vol-old"]
    assert answer["holding_back"][0]["kind"] == "blocking" and "attached to i-1" in answer["holding_back"][0]["reason"]


@pytest.mark.parametrize("check_mode, held", [(True, ["outside"]), (False, ["rechecked", "outside"])])
def test_what_the_gate_examined_is_hidden_only_where_a_recheck_reported_within_its_narrowing(check_mode, held):
    known = [_dep("s3://data", "s3", "to_move", "rechecked", count=2)]
    examined = [dict(_dep("s3://data", "s3", "to_move", "within", count=2), planned=True),
                dict(_dep("s3://data", "s3", "to_move", "outside", count=5), planned=False)]
    answer = decide(known, [], examined=examined, targets=["s3://data"], check_mode=check_mode)
    assert [entry["reason"] for entry in answer["dependents"]] == ["rechecked", "outside"]
    assert [entry["reason"] for entry in answer["holding_back"]] == held


def test_what_the_gate_examined_of_an_ignored_service_does_not_hold():
    examined = [dict(_dep("arn:aws:iam::123456789012:user/app", "last_usage", "blocking", "used it"), planned=False)]
    assert decide([], [], examined=examined, ignore_services=["last_usage"])["safe_to_retire"]
    assert not decide([], [], examined=examined)["safe_to_retire"]
