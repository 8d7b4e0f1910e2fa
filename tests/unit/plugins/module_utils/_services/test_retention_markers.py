"""The markers' time format (the gate parses it) and the "needed until" arithmetic."""

import datetime

from ansible_collections.kmsrotate.aws.plugins.module_utils._services import markers
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER, latest, needed_until


def test_marker_tags_are_the_contract():
    moment = datetime.datetime(2026, 12, 1, 15, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert markers.marker_tags("arn:aws:kms:r:1:key/a", moment) == {
        "kmsrotate:rekeyed-from": "arn:aws:kms:r:1:key/a", "kmsrotate:rekeyed-at": "2026-12-01T14:00:00Z"}
    tags = markers.marker_tags("arn:aws:kms:r:1:key/a", moment)
    assert markers.read_marker(tags, "arn:aws:kms:r:1:key/a") == moment
    assert markers.read_marker(tags, "arn:aws:kms:r:1:key/other") is None
    assert markers.read_marker({markers.REKEYED_FROM: "arn:aws:kms:r:1:key/a", markers.REKEYED_AT: "yesterday"},
                               "arn:aws:kms:r:1:key/a") is None


def test_needed_until_and_latest():
    moment = markers.parse_time("2026-12-01T14:00:00Z")
    assert needed_until(moment, 86400) == "2026-12-02T14:00:00Z"
    assert latest([None, "2026-12-02T14:00:00Z", "2026-12-10T00:00:00Z"]) == "2026-12-10T00:00:00Z"
    assert latest(["2026-12-02T14:00:00Z", NEVER, None]) == NEVER
    assert latest([None, None]) is None
