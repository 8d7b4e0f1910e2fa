"""Every use of the collection succeeds with exactly its docs/iam/ policy, and fails without an action it needs.

The endpoint here enforces IAM (LocalEndpoint(enforce_iam=True), see
local_endpoint/iam_enforcement.py): moto's own evaluator authorizes every
request by the IAM user whose access key signed it. Each run is a real
ansible-playbook; each task of ours signs with the key of a user that has one
docs/iam/ policy attached (its access_key/secret_key options, or the
environment for the role), and the environment's key belongs to no user, so
nothing can fall back to the administrator the endpoint keeps for set-up. A
call the policy does not allow is refused and recorded by the endpoint: every
run asserts there was none, even one a module tolerated.

moto evaluates the Resource element for S3 buckets and objects only and asks
about "*" for every other service, so a statement about other resources is
loaded with Resource "*"; that the run's key ARNs fall under the policy's key
patterns is asserted separately (docs/iam/README.md).
"""

import base64
import copy
import fnmatch
import io
import json
import pathlib
import sys
import zipfile

import pytest
import yaml

from local_endpoint import ACCOUNT_ID, REGION, LocalEndpoint
from playbook import PlaybookRunner

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import demo_estate  # noqa: E402  pylint: disable=wrong-import-position

POLICIES = REPO / "docs" / "iam"
COLLECTIONS = REPO / ".build" / "collections"
ROTATE = REPO / "playbooks" / "rotate.yml"
GATE_TASK = "kmsrotate.aws.rotation : Verify | decide what still holds the source key"
# The placeholders docs/iam/README.md tells a user to replace.
PLACEHOLDERS = {"111122223333": ACCOUNT_ID, "eu-west-1": REGION}
BATCH_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"Service": "batchoperations.s3.amazonaws.com"}}]}
# Anything that ignored the run's credentials would sign with a key no user has.
NO_SUCH_KEY = {"AWS_ACCESS_KEY_ID": "AKIANOSUCHUSERKEY000", "AWS_SECRET_ACCESS_KEY": "none"}


@pytest.fixture(scope="session")
def enforcing(tmp_path_factory):
    log = tmp_path_factory.mktemp("enforcing-endpoint") / "server.log"
    with LocalEndpoint(log_path=str(log), enforce_iam=True) as server:
        yield server


@pytest.fixture
def emptied(enforcing):
    """The enforcing endpoint with nothing in it but its administrator."""
    enforcing.reset()
    return enforcing


@pytest.fixture
def estate(emptied, tmp_path):
    return demo_estate.seed(emptied, tmp_path, data_keys=2, objects=2, versions=2)


@pytest.fixture
def runner(enforcing, tmp_path):
    return PlaybookRunner(enforcing, tmp_path, collections_path=str(COLLECTIONS))


def shipped(use, bucket=None, **names):
    """docs/iam/<use>.json with the placeholders replaced for this endpoint (REPORT_BUCKET_NAME=... and the like)."""
    text = (POLICIES / "{0}.json".format(use)).read_text()
    # Longest first: REPORT_BUCKET_NAME before BUCKET_NAME.
    values = dict(PLACEHOLDERS, BUCKET_NAME=bucket or "no-bucket", **names)
    for placeholder in sorted(values, key=len, reverse=True):
        text = text.replace(placeholder, values[placeholder])
    return json.loads(text)


def _resources(statement):
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def as_moto_evaluates(policy):
    """Statements about resources moto does not evaluate (all but S3's) widened to Resource "*"."""
    loaded = copy.deepcopy(policy)
    for statement in loaded["Statement"]:
        if not all(resource.startswith("arn:aws:s3:::") for resource in _resources(statement)):
            statement["Resource"] = "*"
    return loaded


def without(policy, action):
    trimmed = copy.deepcopy(policy)
    for statement in trimmed["Statement"]:
        assert isinstance(statement["Action"], list)
        statement["Action"] = [name for name in statement["Action"] if name != action]
    assert trimmed != policy, "{0} is not in the policy".format(action)
    return trimmed


def assert_keys_covered(policy, action, key_arns):
    """The policy's own Resource patterns (not the widened ones) allow `action` on these keys."""
    patterns = [resource for statement in policy["Statement"] if action in statement["Action"]
                for resource in _resources(statement)]
    for arn in key_arns:
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns), (action, arn, patterns)


def user_with(endpoint, name, *policies):
    """An IAM user with these policies attached (managed: docs/iam/README.md says why); its access key."""
    iam = endpoint.client("iam")
    iam.create_user(UserName=name)
    for number, policy in enumerate(policies):
        arn = iam.create_policy(PolicyName="{0}-{1}".format(name, number),
                                PolicyDocument=json.dumps(as_moto_evaluates(policy)))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def task(name, module, credentials, **options):
    """A task of ours signed with these credentials (module options win over the environment)."""
    options.update(access_key=credentials["AWS_ACCESS_KEY_ID"], secret_key=credentials["AWS_SECRET_ACCESS_KEY"])
    return {"name": name, "kmsrotate.aws.{0}".format(module): options, "register": name.lower()}


def denials(endpoint):
    """The calls the endpoint refused since the last look (local_endpoint/iam_enforcement.py)."""
    seen = endpoint.control("iam_denials", method="GET")
    endpoint.control("iam_denials", method="DELETE")
    return seen


def assert_allowed(run, endpoint):
    """The run succeeded and the endpoint refused none of its calls; else say which calls and which tasks."""
    refused = denials(endpoint)
    failed = [(task["task"]["name"], result.get("msg")) for play in run.data.get("plays", [])
              for task in play.get("tasks", []) for result in task["hosts"].values() if result.get("failed")]
    assert run.rc == 0 and refused == [], (refused, failed)


def customer_keys(kms):
    """AWS managed keys appear when a service first asks about them: only customer managed ones count."""
    return [key["KeyArn"] for key in kms.list_keys()["Keys"]
            if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyManager"] == "CUSTOMER"]


def key_state(kms, arn):
    return kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]


def test_each_use_runs_with_exactly_its_policy(enforcing, estate, runner, tmp_path):
    kms = enforcing.client("kms")
    source, bucket, data_keys = estate.source_key_arn, estate.bucket, [estate.data_key_dir + "/*.key"]
    keys_before = customer_keys(kms)

    # Plan: the whole role in check mode.
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"kms_rotation": {"hosts": {"unit": estate.host_vars()}}}))
    planner = user_with(enforcing, "plan", shipped("plan", bucket))
    plan = runner.run(playbook=ROTATE, inventory=inventory, check=True, env=planner, extra_vars={
        "kms_rotation_report_dir": str(tmp_path / "reports"), "kms_rotation_poll_interval": 1})
    assert_allowed(plan, enforcing)
    # Every service discovery reads was read: none reported unknown for want of a permission.
    assert plan.result(GATE_TASK, host="unit")["unknown_services"] == []
    assert customer_keys(kms) == keys_before and key_state(kms, source) == "Enabled"

    # Then each use with its own user, in one playbook: a task per use, signed with that user's key.
    users = {use: user_with(enforcing, use, shipped(use, bucket))
             for use in ("key", "data_keys", "s3", "ebs", "retirement")}
    destination = "{{ successor.destination_key_arn }}"
    run = runner.run([
        task("Successor", "kms_successor_key", users["key"], source_key_id=source, create_key=True),
        task("Rotation", "kms_key_rotation", users["key"], key_id=destination, enable_automatic_rotation=True),
        # Check mode with a destination key (a plan after the key phase, the verify phase): plan.json suffices.
        dict(task("Plan_data_keys", "kms_data_key_rewrap", planner, destination_key_id=destination,
                  source_key_ids=[source], paths=data_keys), check_mode=True),
        dict(task("Plan_s3", "s3_kms_recopy", planner, bucket=bucket, destination_key_id=destination,
                  source_key_ids=[source], method="update"), check_mode=True),
        dict(task("Plan_ebs", "ebs_kms_migrate", planner, destination_key_id=destination, source_key_ids=[source],
                  volume_ids=estate.volume_ids, snapshot_ids=estate.snapshot_ids, allow_stop=True), check_mode=True),
        task("Rewrap", "kms_data_key_rewrap", users["data_keys"], destination_key_id=destination,
             source_key_ids=[source], paths=data_keys),
        task("Recopy", "s3_kms_recopy", users["s3"], bucket=bucket, destination_key_id=destination,
             source_key_ids=[source], method="update"),
        task("Migrate", "ebs_kms_migrate", users["ebs"], destination_key_id=destination, source_key_ids=[source],
             volume_ids=estate.volume_ids, snapshot_ids=estate.snapshot_ids, allow_stop=True),
        # As the role's verify phase does: a re-check in check mode (plan.json) speaks for what the move
        # kept under the source key on purpose (a snapshot's source, retained beside its copy).
        dict(task("Recheck", "ebs_kms_migrate", planner, destination_key_id=destination, source_key_ids=[source],
                  volume_ids=estate.volume_ids, snapshot_ids=estate.snapshot_ids, allow_stop=True), check_mode=True),
        task("Gate", "kms_key_usage_info", users["retirement"], key_id=source, for_retirement=True,
             data_key_paths=data_keys, known_dependents="{{ recheck.dependents }}"),
        task("Guard", "kms_key_policy_guard", users["retirement"], key_id=source, days=7),
        task("Retire", "kms_key_retire", users["retirement"], key_id=source, state="disabled"),
    ], env=NO_SUCH_KEY)
    assert_allowed(run, enforcing)
    destination = run.result("Successor")["destination_key_arn"]
    assert run.result("Plan_s3")["method_used"] == "update" and run.result("Plan_s3")["counts"]["rekeyed"] == 4
    assert all(run.result(name)["changed"]
               for name in ("Successor", "Rotation", "Rewrap", "Recopy", "Migrate", "Guard", "Retire"))
    assert kms.get_key_rotation_status(KeyId=destination)["KeyRotationEnabled"]
    gate = run.result("Gate")
    assert gate["safe_to_retire"] and gate["unknown_services"] == [], (gate["holding_back"], gate["unknown_services"])
    assert demo_estate.prove(enforcing, estate, destination) == []
    assert key_state(kms, source) == "Disabled"

    # The key patterns of the policies (widened for moto above) cover both keys.
    for use, action in (("plan", "kms:ReEncryptFrom"), ("key", "kms:UpdateAlias"), ("data_keys", "kms:ReEncryptTo"),
                        ("s3", "kms:GenerateDataKey"), ("ebs", "kms:CreateGrant"), ("retirement", "kms:DisableKey")):
        assert_keys_covered(shipped(use, bucket), action, [source, destination])


def test_an_s3_batch_job_runs_with_exactly_its_policy(emptied, runner):
    """The caller's side of `method: batch`: S3 Control job calls, iam:PassRole, the report (docs/s3_batch.md)."""
    enforcing = emptied
    kms, s3, iam = enforcing.client("kms"), enforcing.client("s3"), enforcing.client("iam")
    source, destination = (kms.create_key(Description=name)["KeyMetadata"]["Arn"] for name in ("source", "destination"))
    s3.create_bucket(Bucket="batch-data")
    s3.create_bucket(Bucket="batch-reports")
    for number in range(2):
        s3.put_object(Bucket="batch-data", Key="doc-{0}".format(number), Body=b"data", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=source)
    role = iam.create_role(RoleName="batch-rekey", AssumeRolePolicyDocument=json.dumps(BATCH_TRUST))["Role"]["Arn"]
    caller = user_with(enforcing, "s3_batch", shipped("s3_batch", "batch-data", REPORT_BUCKET_NAME="batch-reports",
                                                      BATCH_ROLE_NAME="batch-rekey"))
    run = runner.run([task("Batch", "s3_kms_recopy", caller, bucket="batch-data", destination_key_id=destination,
                           source_key_ids=[source], method="batch", batch_role_arn=role,
                           batch_report_bucket="batch-reports", batch_poll_interval=1)], env=NO_SUCH_KEY)
    assert_allowed(run, enforcing)
    assert run.result("Batch")["method_used"] == "batch" and run.result("Batch")["changed"]
    assert {s3.head_object(Bucket="batch-data", Key="doc-{0}".format(number))["SSEKMSKeyId"]
            for number in range(2)} == {destination}


def _service_estate(endpoint, key):
    """One resource per service kms_service_rekey moves, under `key`; their ARNs."""
    arns = [endpoint.client("secretsmanager").create_secret(Name="orders/db", SecretString="one",
                                                            KmsKeyId=key)["ARN"]]
    arns.append(endpoint.client("dynamodb").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})["TableDescription"]["TableArn"])
    sqs = endpoint.client("sqs")
    url = sqs.create_queue(QueueName="orders", Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    arns.append(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    arns.append(endpoint.client("sns").create_topic(Name="orders", Attributes={"KmsMasterKeyId": key})["TopicArn"])
    logs = endpoint.client("logs")
    logs.create_log_group(logGroupName="/orders/api", kmsKeyId=key)
    arns.append(logs.describe_log_groups(logGroupNamePrefix="/orders/api")["logGroups"][0]["arn"])
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return 1\n")
    role = endpoint.client("iam").create_role(RoleName="orders", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arns.append(endpoint.client("lambda").create_function(
        FunctionName="orders", Runtime="python3.12", Role=role, Handler="fn.handler", KMSKeyArn=key,
        Code={"ZipFile": code.getvalue()}, Environment={"Variables": {"MODE": "test"}})["FunctionArn"])
    kinesis = endpoint.client("kinesis")
    kinesis.create_stream(StreamName="orders", ShardCount=1)
    kinesis.start_stream_encryption(StreamName="orders", EncryptionType="KMS", KeyId=key)
    arns.append(kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["StreamARN"])
    endpoint.client("ssm").put_parameter(Name="/orders/token", Value="t0ken", Type="SecureString", KeyId=key)
    arns.append("arn:aws:ssm:{0}:{1}:parameter/orders/token".format(REGION, ACCOUNT_ID))
    return arns


def test_service_resources_move_with_exactly_their_policy(emptied, runner):
    enforcing = emptied
    kms = enforcing.client("kms")
    source, destination = (kms.create_key(Description=name)["KeyMetadata"]["Arn"] for name in ("source", "destination"))
    targets = _service_estate(enforcing, source)
    planner, caller = user_with(enforcing, "plan", shipped("plan")), user_with(enforcing, "services", shipped("services"))
    # The role's services phase in check mode reads with plan.json.
    plan = runner.run([dict(task("Plan", "kms_service_rekey", planner, source_key=source, destination_key=destination,
                                 targets=targets), check_mode=True)], env=NO_SUCH_KEY)
    assert_allowed(plan, enforcing)
    assert {entry["action"] for entry in plan.result("Plan")["resources"]} == {"moved", "planned"}
    run = runner.run([task("Rekey", "kms_service_rekey", caller, source_key=source, destination_key=destination,
                           targets=targets, allow_plaintext_on_controller=True)], env=NO_SUCH_KEY)
    assert_allowed(run, enforcing)
    moved = {entry["resource"]: entry["action"] for entry in run.result("Rekey")["resources"]}
    assert moved == {arn: "moved" for arn in targets}


def test_a_call_outside_the_policy_fails_the_run_and_names_the_action(enforcing, estate, runner):
    """One denial per enforcement path: moto's own (KMS ReEncrypt), and the endpoint's (S3 UpdateObjectEncryption)."""
    kms, s3 = enforcing.client("kms"), enforcing.client("s3")
    destination = kms.create_key(Description="destination")["KeyMetadata"]["Arn"]
    source = estate.source_key_arn
    no_reencrypt_to = user_with(enforcing, "no-reencrypt-to", without(shipped("data_keys"), "kms:ReEncryptTo"))
    no_update = user_with(enforcing, "no-update", without(shipped("s3", estate.bucket), "s3:UpdateObjectEncryption"))
    run = runner.run([
        dict(task("Rewrap", "kms_data_key_rewrap", no_reencrypt_to, destination_key_id=destination,
                  source_key_ids=[source], paths=[estate.data_key_dir + "/*.key"]), ignore_errors=True),
        dict(task("Recopy", "s3_kms_recopy", no_update, bucket=estate.bucket, destination_key_id=destination,
                  source_key_ids=[source], method="update"), ignore_errors=True),
    ], env=NO_SUCH_KEY)
    rewrap, recopy = run.result("Rewrap"), run.result("Recopy")
    refused = {(entry["user"].rsplit("/", 1)[-1], entry["action"]) for entry in denials(enforcing)}
    assert refused == {("no-reencrypt-to", "kms:ReEncryptTo"), ("no-update", "s3:UpdateObjectEncryption")}
    assert rewrap.get("failed") and "kms:ReEncryptTo" in json.dumps(rewrap), rewrap
    assert recopy.get("failed") and "s3:UpdateObjectEncryption" in json.dumps(recopy), recopy
    # Nothing moved: every data key and object version is still under the source key.
    assert {kms.decrypt(CiphertextBlob=base64.b64decode(pathlib.Path(path).read_bytes()))["KeyId"]
            for path in estate.data_key_plaintexts} == {source}
    assert {s3.head_object(Bucket=estate.bucket, Key=name, VersionId=version)["SSEKMSKeyId"]
            for name, version in estate.object_versions} == {source}
