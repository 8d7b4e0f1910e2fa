"""successor_key: find-or-create by tag, destination checks, alias moves."""

import datetime
import json

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.aliases import alias_name
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.successor_key import ALIAS_HISTORY_TAG_PREFIX
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.successor_key import SOURCE_KEY_TAG, SuccessorKey
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.successor_key import SuccessorKeySpec

REGION = "us-east-1"


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


def make_key(kms, alias=None, **kwargs):
    metadata = kms.create_key(**kwargs)["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
    return metadata


@pytest.fixture
def run(make_clients):
    """Run the engine as the module would (in REGION): the values, with the diff under `diff` as --diff returns it."""
    def run(source_key_id, check_mode=False, **options):
        clients, limit = make_clients()
        assert clients.region == REGION
        result = SuccessorKey(clients, limit).run(SuccessorKeySpec(source_key_id=source_key_id, **options),
                                                  check_mode=check_mode)
        return result.for_module(diff_wanted=True)
    return run


def alias_target(kms, name):
    return dict((a["AliasName"], a.get("TargetKeyId")) for a in kms.list_aliases()["Aliases"]).get(name)


def test_alias_name_accepts_every_form():
    assert alias_name("app") == "alias/app"
    assert alias_name("alias/app") == "alias/app"
    assert alias_name("arn:aws:kms:us-east-1:123456789012:alias/app") == "alias/app"


def test_creates_once_copies_policy_and_moves_aliases(run, kms):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "kms:*", "Resource": "*"}]})
    source = make_key(kms, alias="alias/app", Policy=policy)
    kms.create_alias(AliasName="alias/app-legacy", TargetKeyId=source["KeyId"])

    first = run("alias/app", create_key=True, tags={"team": "data"})
    assert first["changed"] and first["created"]
    new_arn = first["destination_key_arn"]
    assert [change["alias_name"] for change in first["aliases"]] == ["alias/app", "alias/app-legacy"]
    assert all(change["before"] == source["Arn"] and change["after"] == new_arn for change in first["aliases"])
    assert alias_target(kms, "alias/app") == new_arn.split("/")[-1]
    tags = dict((t["TagKey"], t["TagValue"]) for t in kms.list_resource_tags(KeyId=new_arn)["Tags"])
    moved_at = tags.pop(ALIAS_HISTORY_TAG_PREFIX + "alias/app")
    assert tags.pop(ALIAS_HISTORY_TAG_PREFIX + "alias/app-legacy") == moved_at
    assert tags == {"team": "data", SOURCE_KEY_TAG: source["Arn"]}
    assert first["alias_history"] == [{"alias_name": "alias/app", "until": moved_at},
                                      {"alias_name": "alias/app-legacy", "until": moved_at}]
    assert json.loads(kms.get_key_policy(KeyId=new_arn, PolicyName="default")["Policy"]) == json.loads(policy)

    # The alias now names the successor; a rerun naming the source by that alias is led back to it.
    for reference in (source["Arn"], "alias/app"):
        again = run(reference, create_key=True)
        assert not again["changed"] and not again["created"]
        assert again["source_key"]["arn"] == source["Arn"] and again["destination_key_arn"] == new_arn
    assert len(kms.list_keys()["Keys"]) == 2


def test_check_mode_plans_without_creating(run, kms):
    source = make_key(kms, alias="alias/app")
    result = run(source["Arn"], create_key=True, check_mode=True)
    assert result["changed"] and result["created"] and result["destination_key_arn"] is None
    assert result["aliases"] == [{"alias_name": "alias/app", "before": source["Arn"], "after": "(key to be created)",
                                  "changed": True}]
    assert len(kms.list_keys()["Keys"]) == 1
    assert alias_target(kms, "alias/app") == source["KeyId"]


def test_existing_destination_and_explicit_aliases(run, kms):
    source = make_key(kms, alias="alias/app")
    destination = make_key(kms)
    result = run(source["Arn"], destination_key_id=destination["Arn"],
                 aliases=["app", "app-new"])
    assert [(c["alias_name"], c["before"], c["changed"]) for c in result["aliases"]] == [
        ("alias/app", source["Arn"], True), ("alias/app-new", None, True)]
    assert alias_target(kms, "alias/app-new") == destination["KeyId"]
    again = run(source["Arn"], destination_key_id=destination["Arn"],
                aliases=["app", "app-new"])
    assert not again["changed"]
    assert [c["before"] for c in again["aliases"]] == [destination["Arn"], destination["Arn"]]


# Neither a destination nor create_key is refused by the argument spec (test_kms_successor_key_arguments.py).
@pytest.mark.parametrize("problem", ["same", "disabled", "asymmetric", "other_region", "both"])
def test_bad_destination_is_refused_before_any_change(run, kms, problem):
    source = make_key(kms, alias="alias/app")
    other = make_key(kms, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY") if problem == "asymmetric" else make_key(kms)
    if problem == "disabled":
        kms.disable_key(KeyId=other["KeyId"])
    destination = {"same": source["Arn"], "other_region": other["Arn"].replace(REGION, "eu-west-1")}.get(
        problem, other["Arn"])
    with pytest.raises(RotationError) as raised:
        run(source["Arn"], destination_key_id=destination, create_key=problem == "both")
    assert raised.value.fix
    assert alias_target(kms, "alias/app") == source["KeyId"]


def test_alias_of_a_third_key_is_not_stolen(run, kms):
    source = make_key(kms)
    make_key(kms, alias="alias/other")
    with pytest.raises(RotationError, match="neither the source nor the destination"):
        run(source["Arn"], create_key=True, aliases=["alias/other"])
    assert len(kms.list_keys()["Keys"]) == 2


def test_two_tagged_successors_are_ambiguous(run, kms):
    source = make_key(kms)
    tagged = [{"TagKey": SOURCE_KEY_TAG, "TagValue": source["Arn"]}]
    make_key(kms, Tags=tagged)
    make_key(kms, Tags=tagged)
    with pytest.raises(RotationError, match="2 keys are tagged"):
        run(source["Arn"], create_key=True)


def test_alias_history_survives_between_runs_and_check_mode_reports_aliases_still_pointing(run, kms):
    source = make_key(kms, alias="alias/app")
    planned = run(source["Arn"], create_key=True, check_mode=True)
    assert planned["alias_history"] == [{"alias_name": "alias/app", "until": None}]
    run(source["Arn"], create_key=True)
    # A later run finds the record on the successor, though the alias no longer points at the source.
    again = run(source["Arn"], create_key=True)
    assert [entry["alias_name"] for entry in again["alias_history"]] == ["alias/app"]
    assert again["alias_history"][0]["until"].endswith("Z")


def test_user_tags_cannot_forge_the_rotation_records(run, kms):
    source = make_key(kms, alias="alias/app")
    created = run(source["Arn"], create_key=True, aliases=[],
                  tags={ALIAS_HISTORY_TAG_PREFIX + "alias/other": "2020-01-01T00:00:00Z"})
    assert created["alias_history"] == [{"alias_name": "alias/app", "until": None}]


def test_second_rotation_by_alias_starts_from_the_alias_key_once_the_first_finished(run, kms):
    """A -> B finished (A disabled): naming alias/app again rotates B, not A -> B once more."""
    key_a = make_key(kms, alias="alias/app")
    first = run("alias/app", create_key=True)
    key_b = first["destination_key_arn"]

    in_progress = run("alias/app", create_key=True)
    assert (in_progress["source_key"]["arn"], in_progress["destination_key_arn"]) == (key_a["Arn"], key_b)
    assert "in progress" in in_progress["source_reason"]

    kms.disable_key(KeyId=key_a["KeyId"])
    finished = run("alias/app", create_key=True)
    assert finished["source_key"]["arn"] == key_b
    assert finished["created"] and finished["destination_key_arn"] not in (key_a["Arn"], key_b)
    assert "finished" in finished["source_reason"] and key_a["Arn"] in finished["source_reason"]
    assert alias_target(kms, "alias/app") == finished["destination_key_arn"].split("/")[-1]


def test_rotation_start_is_the_successors_creation_and_survives_reruns(run, kms):
    source = make_key(kms, alias="alias/app")
    assert run(source["Arn"], create_key=True, check_mode=True)["rotation_started_at"] is None
    first = run(source["Arn"], create_key=True)
    created = kms.describe_key(KeyId=first["destination_key_arn"])["KeyMetadata"]["CreationDate"]
    assert first["rotation_started_at"] == created.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert run(source["Arn"], create_key=True)["rotation_started_at"] == first["rotation_started_at"]
