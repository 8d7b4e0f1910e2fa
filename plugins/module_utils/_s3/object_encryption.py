# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a HeadObject refusal says about an object version's encryption, read without guessing.

S3 refuses HeadObject on an SSE-C object read without its customer key with a
bare 400: a HEAD answer has no body, so the same bare 400 also stands for any
other bad request. Taking every bare 400 as SSE-C (which needs no KMS key)
let an object whose encryption nobody read pass the retirement gate. The
refusal is confirmed instead with a one-byte GetObject, whose error has a
body: S3 names SSE-C there ("InvalidRequest", "...stored using a form of
Server Side Encryption..."). Anything else stays unknown.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import error_code, error_message

# The status of HeadObject's bodiless refusal.
BARE_BAD_REQUEST = "400"
_SSE_C_REFUSAL_CODE = "InvalidRequest"
_SSE_C_REFUSAL_TEXT = "Server Side Encryption"


def is_bare_bad_request(exc):
    """A HeadObject refusal that says nothing but 400: SSE-C, or something else, a GetObject tells."""
    return error_code(exc) == BARE_BAD_REQUEST


def confirms_sse_c(s3, bucket, key, version_id=None):
    """True only when S3 says in words that the version is SSE-C; False for any other answer (then: unknown).

    The GetObject reads one byte at most, and only when the refusal named
    SSE-C does it read nothing; a version that reads fine without a customer
    key is not SSE-C, whatever HeadObject answered.
    """
    request = {"Bucket": bucket, "Key": key, "Range": "bytes=0-0"}
    if version_id is not None:
        request["VersionId"] = version_id
    try:
        answer = s3.get_object(aws_retry=True, **request)
    except ClientError as exc:
        return error_code(exc) == _SSE_C_REFUSAL_CODE and _SSE_C_REFUSAL_TEXT in error_message(exc)
    except BotoCoreError:
        return False
    answer["Body"].close()
    return False
