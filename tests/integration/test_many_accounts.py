"""Many accounts: the inventory plugin lists keys through a role per account, the role rotates each in its own.

moto keeps one set of resources per account and maps the credentials STS AssumeRole hands out to the role's
account, so a role ARN in 111111111111 and one in 222222222222 give two separate estates on one endpoint.
moto does not evaluate trust policies: that a role may be assumed is not tested here, only that each host's
modules run with its own account's credentials.
"""

import json
import os
import pathlib
import subprocess
import sys

import boto3

REPO = pathlib.Path(__file__).resolve().parents[2]
ROTATE = REPO / "playbooks" / "rotate.yml"
ANSIBLE_INVENTORY = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
ROLE = "kmsrotate.aws.rotation : "
ACCOUNTS = ("111111111111", "222222222222")
SOURCE_TAG = "kmsrotate:source-key-arn"
# The access key id is not secret (AWS says so; amazon.aws shows it in `invocation` like any other argument):
# the secret key and the session token are, and appear nowhere.
SECRET_FIELDS = ("secret_key", "session_token", "aws_secret_access_key", "aws_session_token", "SecretAccessKey",
                 "SessionToken", "sts_creds")


def _role_arn(account):
    return "arn:aws:iam::{0}:role/kms-rotation".format(account)


def _account_client(aws, account, service):
    """A client of `service` in `account`, through the same AssumeRole the plugin and the role make."""
    credentials = aws.client("sts").assume_role(RoleArn=_role_arn(account), RoleSessionName="test-seed")["Credentials"]
    return boto3.client(service, region_name="us-east-1", endpoint_url=aws.url,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def _seed(aws):
    """The same alias in both accounts, each over its own key; a key in the caller's own account too."""
    sources = {}
    for account in ACCOUNTS:
        _account_client(aws, account, "iam").create_role(RoleName="kms-rotation", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}))
        kms = _account_client(aws, account, "kms")
        key = kms.create_key(Description="app data of {0}".format(account))["KeyMetadata"]
        kms.create_alias(AliasName="alias/app-data", TargetKeyId=key["KeyId"])
        sources[account] = key
    caller_kms = aws.client("kms")
    caller_kms.create_alias(AliasName="alias/app-data", TargetKeyId=caller_kms.create_key()["KeyMetadata"]["KeyId"])
    return sources


def _inventory(tmp_path):
    path = tmp_path / "accounts.kms_rotation.yml"
    path.write_text(json.dumps({
        "plugin": "kmsrotate.aws.kms_rotation", "regions": ["us-east-1"], "aliases": ["app-*"],
        "discover_usage": False, "assume_role_arns": [_role_arn(account) for account in ACCOUNTS],
        "keyed_groups": [{"key": "kms_rotation_account_id", "prefix": "account"}]}))
    return path


def _plain(value):
    """ansible-inventory marks strings from inventory plugins untrusted: {"__ansible_unsafe": text}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((name, _plain(item)) for name, item in value.items())
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _secret_values(value, found, where=()):
    """(where, field) of every non-empty credential field anywhere in a JSON document."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name in SECRET_FIELDS and item and "VALUE_SPECIFIED_IN_NO_LOG" not in str(item):
                found.append((where, name))
            _secret_values(item, found, where + (value.get("task", {}).get("name", name)
                                                 if isinstance(value.get("task"), dict) else name,))
    elif isinstance(value, list):
        for item in value:
            _secret_values(item, found, where)
    return found


def test_inventory_lists_each_accounts_keys_and_the_role_rotates_each_in_its_own_account(playbook, aws, tmp_path):
    sources = _seed(aws)
    inventory = _inventory(tmp_path)
    listed = subprocess.run([ANSIBLE_INVENTORY, "-i", str(inventory), "--list"], capture_output=True, text=True,
                            env=playbook.environment(endpoint_in_env=True), timeout=300, check=False)
    assert listed.returncode == 0, listed.stderr
    hosts = _plain(json.loads(listed.stdout))
    names = dict((account, "app-data_us-east-1_{0}".format(account)) for account in ACCOUNTS)
    # Only the accounts of the roles: the caller's own app-data key is not listed.
    assert sorted(hosts["kms_rotation"]["hosts"]) == sorted(names.values())
    for account, name in names.items():
        host = hosts["_meta"]["hostvars"][name]
        assert host["kms_rotation_source_key"] == sources[account]["Arn"]
        assert host["kms_rotation_account_id"] == account
        assert host["kms_rotation_iam_role_arn"] == _role_arn(account)
        assert hosts["account_{0}".format(account)]["hosts"] == [name]

    run = playbook.run(playbook=ROTATE, inventory=inventory, extra_vars={
        "kms_rotation_retire": "none", "kms_rotation_report_dir": str(tmp_path / "reports"),
        "kms_rotation_poll_interval": 1})
    assert run.rc == 0, run
    for account, name in names.items():
        assert run.data["stats"][name]["failures"] == 0, run
        kms = _account_client(aws, account, "kms")
        source_arn = sources[account]["Arn"]
        successors = [key["KeyArn"] for key in kms.list_keys()["Keys"]
                      if {"TagKey": SOURCE_TAG, "TagValue": source_arn}
                      in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]]
        assert len(successors) == 1, (account, successors)
        # The successor lives in the source key's account, and that account's alias moved to it.
        assert successors[0].split(":")[4] == account
        alias = next(item for item in kms.list_aliases()["Aliases"] if item["AliasName"] == "alias/app-data")
        assert kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"] == successors[0]
    # Nothing was created in the caller's own account.
    caller_kms = aws.client("kms")
    assert all(not caller_kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]
               for key in caller_kms.list_keys()["Keys"])

    # The assumed credentials appear nowhere: not in any task result, nor in the report files.
    assume = run.results(ROLE + "Preflight | assume the role of the key's account", host=names[ACCOUNTS[0]])
    assert assume and assume[0].get("censored"), assume
    assert _secret_values(run.data, []) == []
    for report in (tmp_path / "reports").iterdir():
        if report.suffix == ".json":
            assert _secret_values(json.loads(report.read_text()), []) == [], report
        assert "session_token" not in report.read_text(), report


def test_a_role_of_another_account_than_the_keys_fails_preflight_before_any_change(playbook, aws, tmp_path):
    sources = _seed(aws)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"kms_rotation": {"hosts": {"crossed": {
        "kms_rotation_source_key": sources[ACCOUNTS[0]]["Arn"], "kms_rotation_iam_role_arn": _role_arn(ACCOUNTS[1])}}}}))
    run = playbook.run(playbook=ROTATE, inventory=inventory, extra_vars={
        "kms_rotation_report_dir": str(tmp_path / "reports")})
    assert run.rc != 0
    message = run.result(ROLE + "Rotation | fail the host where the rotation stopped", host="crossed")["msg"]
    assert "is a role of account {0}".format(ACCOUNTS[1]) in message, message
    for account in ACCOUNTS:
        assert len(_account_client(aws, account, "kms").list_keys()["Keys"]) == 1, account
