"""The gate's top-level needed_until: the latest date of what holds the key only until its data ages out."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.retirement import decide

KEY = "arn:aws:kms:us-east-1:123456789012:key/source"


def _hold(resource, service, until, kind="blocking"):
    return dependent(resource, service, kind, "needed until " + str(until), key_arn=KEY, planned=False,
                     needed_until=until)


def test_the_latest_date_of_the_holds():
    examined = [_hold("queue", "sqs", "2026-12-15T14:05:00Z"), _hold("stream", "kinesis", "2026-12-02T14:05:00Z")]
    answer = decide([], [], examined=examined)
    assert answer["needed_until"] == "2026-12-15T14:05:00Z" and not answer["safe_to_retire"]


def test_never_beats_every_date():
    examined = [_hold("queue", "sqs", "2026-12-15T14:05:00Z"), _hold("group", "logs", "never")]
    assert decide([], [], examined=examined)["needed_until"] == "never"


def test_what_does_not_hold_sets_no_date():
    examined = [_hold("queue", "sqs", "2026-12-15T14:05:00Z"), _hold("history", "ssm", None, kind="retained")]
    answer = decide([], [], examined=examined, ignore_services=["sqs"])
    assert answer["needed_until"] is None and answer["safe_to_retire"]
    assert decide([], [])["needed_until"] is None
