# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ReEncrypt of stored blobs that names SourceKeyId whenever the blob's key is known.

AWS recommends naming SourceKeyId in ReEncrypt (KMS then refuses a blob under
another key with IncorrectKeyException), and some emulators (LocalStack)
answer a ReEncrypt without it with HTTP 500 InternalError, a code AWSRetry
retries 12 times: minutes per blob, for nothing.

Which key is named, blob by blob:
1. the key of the previous blob (its answer's SourceKeyId), else the only key
   in source_key_ids: blobs of one estate are mostly under one key, so after
   the first answer nearly every call names the right key in one request;
2. when KMS says that is not the blob's key (IncorrectKeyException; any other
   refusal of a guessed key is kept, to report if nothing works), the only
   source key if it was not named yet, then no key at all: KMS reads a
   symmetric blob's key from the blob, and its answer (or its error, which is
   then the one reported) is about the blob itself;
3. an endpoint that answers the call without a key with HTTP 500 is asked that
   way once per run (the first such call is made alone, the others wait for
   its answer) and never again; each blob is then tried under every key the
   run knows (learnt, source_key_ids, destination) until one is its key.
A blob under none of those keys on such an endpoint fails with a reason
that says to name its key in source_key_ids.
"""

import threading

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, error_code, http_status
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry

INCORRECT_KEY = "IncorrectKeyException"
# What an emulator answers a ReEncrypt without SourceKeyId with (KMS's own 500 is KMSInternalException, retried).
_REFUSAL_CODES = ("InternalError", "InternalFailure")


class SourceKeyUnknown(RuntimeError):
    """The endpoint needs SourceKeyId and the blob is under none of the keys the run knows."""


class _Refusal(Exception):
    """Not a botocore error, so aws_retry hands it back at once instead of retrying it."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def _refuses_unnamed_source(exc):
    return http_status(exc) == 500 and error_code(exc) in _REFUSAL_CODES


@aws_retry
def _re_encrypt_without_source_key(kms, params):
    # The call itself goes without aws_retry=True: this function is retried by aws_retry, whose
    # throttling and transient-error retries apply, except to an emulator's refusal.
    try:
        return kms.re_encrypt(**params)
    except ClientError as exc:
        if _refuses_unnamed_source(exc):
            raise _Refusal(exc)
        raise


class SourceKeyNaming(object):
    """ReEncrypt(blob) for one run, naming SourceKeyId as the module docs say; safe across threads."""

    def __init__(self, kms, scope, source_context, destination_context):
        self._kms = kms
        self._scope = scope
        self._source_context = source_context
        self._destination_context = destination_context
        self._sole_source = next(iter(scope.sources)) if len(scope.sources) == 1 else None
        self._lock = threading.Lock()
        self._probe = threading.Lock()
        self._last_key = None
        self._learnt = set()
        # Whether the endpoint answers a ReEncrypt without SourceKeyId: None until it was asked.
        self._unnamed_answered = None
        self._refusal = None

    def re_encrypt(self, blob):
        """ReEncrypt's answer for the blob; raises KMS's error about the blob, or SourceKeyUnknown."""
        tried = []
        errors = []
        for key_arn in self._first_choices():
            answer = self._named(blob, key_arn, tried, errors)
            if answer is not None:
                return answer
        # Asked without a key, KMS answers about the blob itself: its error (if any) is the one to report.
        answer = self._unnamed(blob)
        if answer is not None:
            return answer
        for key_arn in self._known_keys():
            if key_arn not in tried:
                answer = self._named(blob, key_arn, tried, errors)
                if answer is not None:
                    return answer
        if errors:
            raise errors[0]
        raise SourceKeyUnknown(
            "this endpoint refuses ReEncrypt without SourceKeyId ({0}) and the blob is under none of the keys tried "
            "({1}); name the blob's key in source_key_ids".format(self._refusal, ", ".join(tried)))

    def _first_choices(self):
        with self._lock:
            last = self._last_key
        return list(dict.fromkeys(key_arn for key_arn in (last, self._sole_source) if key_arn))

    def _known_keys(self):
        with self._lock:
            learnt = set(self._learnt)
        return list(dict.fromkeys(sorted(learnt | set(self._scope.sources)) + [self._scope.destination.arn]))

    def _params(self, blob):
        return {"CiphertextBlob": blob, "SourceEncryptionContext": self._source_context,
                "DestinationKeyId": self._scope.destination.arn,
                "DestinationEncryptionContext": self._destination_context}

    def _learn(self, answer):
        with self._lock:
            self._last_key = answer["SourceKeyId"]
            self._learnt.add(answer["SourceKeyId"])
        return answer

    def _named(self, blob, key_arn, tried, errors):
        """The answer naming key_arn, or None when it is not the blob's key or KMS refused (errors gets the error)."""
        tried.append(key_arn)
        try:
            answer = self._kms.re_encrypt(SourceKeyId=key_arn, aws_retry=True, **self._params(blob))
        except ClientError as exc:
            if error_code(exc) != INCORRECT_KEY:
                # A guessed key may be refused for itself (disabled, no kms:ReEncryptFrom): try on before reporting.
                errors.append(exc)
            return None
        return self._learn(answer)

    def _unnamed(self, blob):
        """The answer without SourceKeyId, or None when the endpoint refuses such calls."""
        if self._unnamed_answered is None:
            with self._probe:
                if self._unnamed_answered is None:
                    return self._ask_unnamed(blob)
        if not self._unnamed_answered:
            return None
        return self._ask_unnamed(blob)

    def _ask_unnamed(self, blob):
        try:
            answer = _re_encrypt_without_source_key(self._kms, self._params(blob))
        except _Refusal as refusal:
            self._refusal = "HTTP 500 {0}".format(error_code(refusal.error))
            self._unnamed_answered = False
            return None
        except ClientError:
            # Any other answer is about the blob: the endpoint does answer such calls.
            self._unnamed_answered = True
            raise
        self._unnamed_answered = True
        return self._learn(answer)
