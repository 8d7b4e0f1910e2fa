"""Kinesis TagResource, UntagResource and ListTagsForResource (by ARN), which moto 5.2.5 answers with HTTP 500.

AWS's newer tagging API names a stream by its ARN (ResourceARN) and shares
the stream's tags with AddTagsToStream / ListTagsForStream, which moto
implements; here the ARN forms read and write the same tags:
TagResource {ResourceARN, Tags: {key: value}}, UntagResource {ResourceARN,
TagKeys}, ListTagsForResource {ResourceARN} -> {Tags: [{Key, Value}]}.
A stream that does not exist is ResourceNotFoundException (moto's own).
StartStreamEncryption, including a key change on an already encrypted
stream, and RetentionPeriodHours are right in moto and left alone.
"""

from moto.core.responses import ActionResult, EmptyResult
from moto.kinesis.responses import KinesisResponse

_installed = False


def _stream(response):
    return response.kinesis_backend.describe_stream(stream_arn=response._get_param("ResourceARN"), stream_name=None)


def _tag_resource(self):
    _stream(self).tags.update(self._get_param("Tags") or {})
    return EmptyResult()


def _untag_resource(self):
    tags = _stream(self).tags
    for name in self._get_param("TagKeys") or []:
        tags.pop(name, None)
    return EmptyResult()


def _list_tags_for_resource(self):
    tags = _stream(self).tags
    return ActionResult({"Tags": [{"Key": name, "Value": value} for name, value in sorted(tags.items())]})


def install():
    global _installed
    if _installed:
        return
    KinesisResponse.tag_resource = _tag_resource
    KinesisResponse.untag_resource = _untag_resource
    KinesisResponse.list_tags_for_resource = _list_tags_for_resource
    _installed = True
