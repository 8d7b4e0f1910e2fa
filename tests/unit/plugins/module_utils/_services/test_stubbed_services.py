"""kms_service_rekey's DynamoDB, CloudWatch Logs and Lambda handlers, and SSM's redaction, against botocore's Stubber.

moto 5.2.5 ignores DynamoDB SSE key changes and Lambda KMSKeyArn updates and answers Logs AssociateKmsKey with
HTTP 500 (H4 makes the local endpoint faithful for the integration tests); here each call the handlers make is
asserted, with AWS's documented answers.
"""

import datetime

from botocore.stub import ANY

from ansible_collections.kmsrotate.aws.plugins.module_utils._services import markers
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER

ACCOUNT = "123456789012"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:{0}:table/orders".format(ACCOUNT)
GROUP_ARN = "arn:aws:logs:us-east-1:{0}:log-group:/orders/api".format(ACCOUNT)
FUNCTION_ARN = "arn:aws:lambda:us-east-1:{0}:function:orders".format(ACCOUNT)


def _table(key, status="ACTIVE"):
    return {"Table": {"TableName": "orders", "TableArn": TABLE_ARN, "TableStatus": status,
                      "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}}}


def _marker(tags):
    return dict((tag["Key"], tag["Value"]) for tag in tags)


def test_dynamodb_update_table_waits_tags_and_dates_point_in_time_recovery(stubbed_rekey, keys):
    source, destination = keys
    stubber, run = stubbed_rekey("dynamodb")
    stubber.add_response("describe_table", _table(source), {"TableName": "orders"})
    stubber.add_response("tag_resource", {})  # the markers, written before the change too
    stubber.add_response("update_table", {}, {"TableName": "orders", "SSESpecification": {
        "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": destination}})
    stubber.add_response("describe_table", _table(destination), {"TableName": "orders"})
    stubber.add_response("tag_resource", {}, {"ResourceArn": TABLE_ARN, "Tags": ANY})
    stubber.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {
            "PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": 7}}}, {"TableName": "orders"})
    stubber.add_response("list_backups", {"BackupSummaries": [
        {"BackupArn": TABLE_ARN + "/backup/1", "BackupName": "nightly"}]},
        {"TableName": "orders", "TimeRangeUpperBound": ANY})

    values, _diff, failure = run([TABLE_ARN])
    stubber.assert_no_pending_responses()
    assert failure is None
    [entry] = values["resources"]
    assert entry["action"] == "moved" and entry["key_after"] == destination
    # A backup made before the change never ages out by itself: it blocks.
    assert entry["needed_until"] == NEVER
    [backup] = values["dependents"]
    assert backup["kind"] == "blocking" and backup["examples"] == [TABLE_ARN + "/backup/1"]


def _table_moved(stubber, source, destination):
    """The answers up to the markers after the change: read, markers before it, UpdateTable, ACTIVE again."""
    stubber.add_response("describe_table", _table(source))
    stubber.add_response("tag_resource", {})  # the markers, written before the change too
    stubber.add_response("update_table", {})
    stubber.add_response("describe_table", _table(destination))


def test_dynamodb_point_in_time_recovery_dates_the_old_key(stubbed_rekey, keys):
    source, destination = keys
    stubber, run = stubbed_rekey("dynamodb")
    _table_moved(stubber, source, destination)
    stubber.add_response("tag_resource", {})
    stubber.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {
            "PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": 7}}})
    stubber.add_response("list_backups", {"BackupSummaries": []})
    values, _diff, _failure = run([TABLE_ARN])
    [entry] = values["resources"]
    moved_at = markers.parse_time(entry["rekeyed_at"])
    assert markers.parse_time(entry["needed_until"]) == moved_at + datetime.timedelta(days=7)
    assert values["dependents"] == []


def test_dynamodb_tag_contract_is_sent_exactly(stubbed_rekey, keys):
    source, destination = keys
    stubber, run = stubbed_rekey("dynamodb")
    _table_moved(stubber, source, destination)
    sent = {}
    stubber.add_response("tag_resource", {}, {"ResourceArn": TABLE_ARN, "Tags": ANY})
    stubber.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "DISABLED"}})
    stubber.add_response("list_backups", {"BackupSummaries": []})
    stubber.client.meta.events.register("before-parameter-build.dynamodb.TagResource",
                                        lambda params, **kwargs: sent.update(_marker(params["Tags"])))
    values, _diff, _failure = run([TABLE_ARN])
    assert sent == {"kmsrotate:rekeyed-from": source, "kmsrotate:rekeyed-at": values["resources"][0]["rekeyed_at"]}
    assert values["resources"][0]["needed_until"] is None and values["dependents"] == []


def test_dynamodb_access_denied_is_unknown_names_the_action_and_fails_after_the_others(stubbed_rekey, keys):
    source, _destination = keys
    stubber, run = stubbed_rekey("dynamodb")
    stubber.add_client_error("describe_table", service_error_code="AccessDeniedException",
                             service_message="not allowed", http_status_code=400)
    values, _diff, failure = run([TABLE_ARN])
    [entry] = values["resources"]
    assert entry["action"] == "unknown" and "DescribeTable" in entry["reason"] and entry["needed_until"] == NEVER
    assert [(item["kind"], item["key_arn"]) for item in values["dependents"]] == [("unknown", source)]
    assert failure and TABLE_ARN in failure


def test_dynamodb_under_the_destination_with_markers_is_unchanged_and_writes_nothing(stubbed_rekey, keys):
    source, destination = keys
    stubber, run = stubbed_rekey("dynamodb")
    stubber.add_response("describe_table", _table(destination))
    stubber.add_response("list_tags_of_resource", {"Tags": [
        {"Key": markers.REKEYED_FROM, "Value": source}, {"Key": markers.REKEYED_AT, "Value": "2026-11-30T10:00:00Z"}]})
    stubber.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {
            "PointInTimeRecoveryStatus": "ENABLED"}}})
    stubber.add_response("list_backups", {"BackupSummaries": []})
    values, _diff, _failure = run([TABLE_ARN])
    stubber.assert_no_pending_responses()
    [entry] = values["resources"]
    assert values["changed"] is False and entry["action"] == "unchanged"
    # PITR's default window, 35 days, from the recorded change.
    assert entry["needed_until"] == "2027-01-04T10:00:00Z" and entry["rekeyed_at"] == "2026-11-30T10:00:00Z"


def _group(key, retention=None):
    group = {"logGroupName": "/orders/api", "arn": GROUP_ARN + ":*", "kmsKeyId": key}
    if retention:
        group["retentionInDays"] = retention
    return {"logGroups": [group]}


def test_logs_associate_kms_key_and_needed_until_its_retention(stubbed_rekey, keys):
    source, destination = keys
    stubber, run = stubbed_rekey("logs")
    stubber.add_response("describe_log_groups", _group(source, retention=14), {"logGroupNamePrefix": "/orders/api"})
    stubber.add_response("tag_resource", {})  # the markers, written before the change too
    stubber.add_response("associate_kms_key", {}, {"logGroupName": "/orders/api", "kmsKeyId": destination})
    stubber.add_response("tag_resource", {}, {"resourceArn": GROUP_ARN, "tags": ANY})
    values, _diff, failure = run([GROUP_ARN + ":*"])
    stubber.assert_no_pending_responses()
    [entry] = values["resources"]
    assert failure is None and entry["action"] == "moved"
    assert markers.parse_time(entry["needed_until"]) == markers.parse_time(entry["rekeyed_at"]) + datetime.timedelta(days=14)


def test_logs_without_retention_blocks_for_ever_with_the_fix(stubbed_rekey, keys):
    source, _destination = keys
    stubber, run = stubbed_rekey("logs")
    stubber.add_response("describe_log_groups", _group(source))
    stubber.add_response("tag_resource", {})  # the markers, written before the change too
    stubber.add_response("associate_kms_key", {})
    stubber.add_response("tag_resource", {})
    values, _diff, _failure = run([GROUP_ARN])
    [entry] = values["resources"]
    assert entry["action"] == "moved" and entry["needed_until"] == NEVER and values["needed_until"] == NEVER
    [left] = values["dependents"]
    assert left["kind"] == "blocking" and "put-retention-policy" in left["reason"]


def test_logs_group_missing_from_the_listing_is_not_found(stubbed_rekey):
    stubber, run = stubbed_rekey("logs")
    stubber.add_response("describe_log_groups", {"logGroups": [{"logGroupName": "/orders/api-v2", "arn": "x"}]})
    values, _diff, failure = run([GROUP_ARN])
    assert values["resources"][0]["action"] == "not_found" and failure is None


def _configuration(key, status="Successful"):
    return {"FunctionName": "orders", "FunctionArn": FUNCTION_ARN, "KMSKeyArn": key, "LastUpdateStatus": status,
            "State": "Active"}


def test_lambda_updates_latest_waits_and_its_published_version_is_a_dependent(stubbed_rekey, keys):
    source, destination = keys
    stubber, run = stubbed_rekey("lambda")
    stubber.add_response("get_function_configuration", _configuration(source), {"FunctionName": "orders"})
    stubber.add_response("tag_resource", {})  # the markers, written before the change too
    stubber.add_response("get_function_configuration", _configuration(source), {"FunctionName": "orders"})
    stubber.add_response("update_function_configuration", _configuration(destination, "InProgress"),
                         {"FunctionName": "orders", "KMSKeyArn": destination})
    stubber.add_response("get_function_configuration", _configuration(destination), {"FunctionName": "orders"})
    stubber.add_response("tag_resource", {}, {"Resource": FUNCTION_ARN, "Tags": ANY})
    stubber.add_response("list_versions_by_function", {"Versions": [
        dict(_configuration(destination), Version="$LATEST"),
        dict(_configuration(source), Version="1", FunctionArn=FUNCTION_ARN + ":1")]})
    values, _diff, failure = run([FUNCTION_ARN])
    stubber.assert_no_pending_responses()
    [entry] = values["resources"]
    assert failure is None and entry["action"] == "moved" and entry["needed_until"] == NEVER
    [version] = values["dependents"]
    assert version["resource"] == FUNCTION_ARN + ":1" and version["kind"] == "blocking"


def test_ssm_errors_never_carry_the_value(stubbed_rekey, keys):
    source, _destination = keys
    value = "hunter2-very-secret"
    stubber, run = stubbed_rekey("ssm")
    stubber.add_response("describe_parameters", {"Parameters": [
        {"Name": "/orders/db", "Type": "SecureString", "KeyId": source, "Version": 1}]})
    # The markers, written before the change too (the handler finds the parameter's name again first).
    stubber.add_response("describe_parameters", {"Parameters": [
        {"Name": "/orders/db", "Type": "SecureString", "KeyId": source, "Version": 1}]})
    stubber.add_response("add_tags_to_resource", {})
    stubber.add_response("get_parameter", {"Parameter": {"Name": "/orders/db", "Type": "SecureString",
                                                         "Value": value, "Version": 1}})
    stubber.add_client_error("put_parameter", service_error_code="ValidationException",
                             service_message="Parameter value, {0}, failed to satisfy constraint".format(value),
                             http_status_code=400)
    values, diff, failure = run(["arn:aws:ssm:us-east-1:{0}:parameter/orders/db".format(ACCOUNT)],
                                allow_plaintext_on_controller=True)
    [entry] = values["resources"]
    assert entry["action"] == "unknown" and "ValidationException" in entry["reason"]
    assert value not in repr((values, diff, failure))


def test_a_denied_tag_after_the_change_leaves_it_moved_with_an_unknown_dependent(stubbed_rekey, keys):
    source, destination = keys
    topic = "arn:aws:sns:us-east-1:{0}:orders".format(ACCOUNT)
    stubber, run = stubbed_rekey("sns")
    stubber.add_response("get_topic_attributes", {"Attributes": {"KmsMasterKeyId": source}}, {"TopicArn": topic})
    stubber.add_response("tag_resource", {})  # the markers, written before the change too
    stubber.add_response("set_topic_attributes", {}, {"TopicArn": topic, "AttributeName": "KmsMasterKeyId",
                                                      "AttributeValue": destination})
    stubber.add_client_error("tag_resource", service_error_code="AuthorizationError", http_status_code=403)
    values, _diff, failure = run([topic])
    stubber.assert_no_pending_responses()
    [entry] = values["resources"]
    assert entry["action"] == "moved" and failure is None
    [left] = values["dependents"]
    assert left["kind"] == "unknown" and markers.REKEYED_AT in left["reason"]


def test_a_change_whose_wait_times_out_is_unknown_but_marked_when_the_key_did_change(stubbed_rekey, keys):
    source, destination = keys
    stubber, run = stubbed_rekey("dynamodb")
    stubber.add_response("describe_table", _table(source))
    stubber.add_response("tag_resource", {})  # the markers, written before the change too
    stubber.add_response("update_table", {})
    stubber.add_response("describe_table", _table(destination, status="UPDATING"))
    stubber.add_response("describe_table", _table(destination, status="UPDATING"))
    stubber.add_response("tag_resource", {}, {"ResourceArn": TABLE_ARN, "Tags": ANY})
    values, _diff, failure = run([TABLE_ARN], wait_timeout=1)
    stubber.assert_no_pending_responses()
    [entry] = values["resources"]
    assert entry["action"] == "unknown" and "table exists" in entry["reason"]
    assert failure and TABLE_ARN in failure
