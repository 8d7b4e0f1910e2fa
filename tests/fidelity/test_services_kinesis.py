"""Kinesis tagging by ARN (fidelity/services_kinesis.py), over HTTP."""


def test_tags_by_arn_are_the_stream_tags(aws):
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="events", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]["StreamARN"]
    kinesis.tag_resource(ResourceARN=arn, Tags={"team": "a", "gone": "x"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["gone"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert kinesis.list_tags_for_stream(StreamName="events")["Tags"] == [{"Key": "team", "Value": "a"}]
