"""Boolean role variables given as strings on the command line mean what they say, on every supported ansible-core.

`-e name=value` passes a string. Used raw in `when:`, the string "false" is
true on ansible-core 2.17 (so `kms_rotation_force_retire=false` forced the
retirement) and an error on 2.19; the role coerces each with `| bool`.
"""

import pytest

from test_rotation_role import ROLE, key_state, rotate, write_inventory

REFUSAL = ROLE + "Retire | refuse while something still needs the source key"


@pytest.mark.parametrize("spelling", ["false", "no"])
def test_force_retire_false_as_a_string_does_not_force(aws, playbook_each_core, tmp_path, spelling):
    kms, secrets = aws.client("kms"), aws.client("secretsmanager")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    # Not a target of the rotation: discovery finds it and it holds the key.
    secret_arn = secrets.create_secret(Name="app/db-password", SecretString="s3cret", KmsKeyId=source)["ARN"]
    inventory = write_inventory(tmp_path / "inventory.yml", {"unit": {"kms_rotation_source_key": source}})

    run = rotate(playbook_each_core, inventory, tmp_path, extra_args=["-e", "kms_rotation_force_retire=" + spelling])

    assert run.rc != 0, run
    refusal = run.result(REFUSAL, host="unit")
    assert secret_arn in refusal["msg"], refusal
    assert not run.results(ROLE + "Retire | FORCED - retire the source key although something still depends on it",
                           host="unit")
    assert key_state(kms, source) == "Enabled"
