"""blob_format: which content can be a KMS ciphertext blob, and the layouts a blob is written back in."""

import base64
import os

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_format
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.blob_format import NotABlob

RAW = bytes(range(256)) * 2
# Laid out as AWS's blobs are (version 0x01, ..., a DER CMS EncryptedData): AWS documents none of it.
AWS_LIKE = bytes.fromhex("0102020078") + os.urandom(32) + b"\x01" + os.urandom(16) + b"\x00\x00\x00\x62" + \
    bytes.fromhex("306006092a864886f70d010706a0533051020100304c") + os.urandom(104)


def _wrapped(blob, width=76, ending=b"\n"):
    """Base64 as `base64` (GNU coreutils) writes it: lines of `width`, each ended, the last one too."""
    text = base64.b64encode(blob)
    return b"".join(text[start:start + width] + ending for start in range(0, len(text), width))


@pytest.mark.parametrize("content, requested, layout", [
    (base64.b64encode(RAW) + b"\n", "auto", "base64"),
    (base64.b64encode(RAW), "base64", "base64"),
    (b"\n  " + base64.b64encode(RAW) + b"\r\n\n", "auto", "base64"),
    (_wrapped(RAW), "auto", "base64 wrapped at 76 (LF)"),
    (_wrapped(RAW, ending=b"\r\n"), "auto", "base64 wrapped at 76 (CRLF)"),
    (_wrapped(RAW, width=64), "base64", "base64 wrapped at 64 (LF)"),
    (_wrapped(RAW)[:-1], "auto", "base64 wrapped at 76 (LF)"),
    (RAW, "auto", "binary"),
    (RAW, "binary", "binary"),
], ids=["line", "bare", "surrounding-space", "wrapped-76-lf", "wrapped-76-crlf", "wrapped-64", "no-final-newline",
        "binary-auto", "binary"])
def test_decode_round_trips_each_layout(content, requested, layout):
    blob, found = blob_format.decode(content, requested)
    assert blob == RAW
    assert found.describe() == layout
    assert found.encode(blob) == content


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_a_new_blob_is_written_with_the_same_width_and_line_ending(ending):
    _blob, layout = blob_format.decode(_wrapped(RAW, ending=ending), "auto")
    new_blob = os.urandom(700)
    assert layout.encode(new_blob) == _wrapped(new_blob, ending=ending)


def _endpoint_blobs(kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    yield "encrypt-1-byte", kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    yield "encrypt-4096-bytes", kms.encrypt(KeyId=key, Plaintext=b"p" * 4096)["CiphertextBlob"]
    for spec in ("AES_128", "AES_256"):
        yield "data-key-" + spec, kms.generate_data_key(KeyId=key, KeySpec=spec)["CiphertextBlob"]
    for size in (1, 1024):
        yield "data-key-{0}-bytes".format(size), kms.generate_data_key(KeyId=key, NumberOfBytes=size)["CiphertextBlob"]
    yield "without-plaintext", kms.generate_data_key_without_plaintext(KeyId=key, KeySpec="AES_256")["CiphertextBlob"]
    yield "with-context", kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "billing"})["CiphertextBlob"]
    yield "aws-layout", AWS_LIKE


@pytest.mark.parametrize("requested", ["auto", "base64", "binary"])
def test_every_blob_the_endpoint_makes_is_accepted_in_every_layout(aws_client, requested):
    for name, blob in _endpoint_blobs(aws_client("kms")):
        layouts = {"binary": [blob], "base64": [base64.b64encode(blob) + b"\n", _wrapped(blob),
                                                _wrapped(blob, ending=b"\r\n")]}
        layouts["auto"] = layouts["binary"] + layouts["base64"]
        for content in layouts[requested]:
            assert blob_format.decode(content, requested)[0] == blob, name


@pytest.mark.parametrize("content, requested, reason", [
    (b"", "auto", "empty"),
    (b"listen: 0.0.0.0:8443\nkey_file: /etc/app/data.key\n", "auto", "text but not base64"),
    ("clé = \"valeur\"\n".encode("utf-8"), "auto", "text but not base64"),
    (b"true\n", "auto", "3 bytes; a KMS ciphertext blob is 29 to 6144 bytes"),
    (base64.b64encode(os.urandom(7000)) + b"\n", "auto", "7000 bytes; a KMS ciphertext blob is 29 to 6144"),
    (os.urandom(7000).replace(b"\x00", b"\x01"), "binary", "7000 bytes"),
    (b"\x01" * 17000, "binary", "17000 bytes: larger than a KMS ciphertext blob can be (6144 bytes, 8192 as base64)"),
    (base64.b64encode(RAW) + b"\n", "binary", "text, not a raw KMS ciphertext blob"),
    (RAW, "base64", "not base64 text"),
], ids=["empty", "config", "utf8-config", "short", "long-base64", "long-binary", "huge", "binary-given-base64",
        "base64-given-binary"])
def test_what_cannot_be_a_blob_is_refused_before_any_request(content, requested, reason):
    with pytest.raises(NotABlob, match=reason.replace("(", r"\(").replace(")", r"\)")):
        blob_format.decode(content, requested)


def test_size_bounds_are_kms_bounds():
    assert (blob_format.MIN_BLOB_BYTES, blob_format.MAX_BLOB_BYTES, blob_format.MAX_BASE64_CHARS) == (29, 6144, 8192)
    assert blob_format.too_large(blob_format.MAX_FILE_BYTES) is None
    assert "16385 bytes" in blob_format.too_large(blob_format.MAX_FILE_BYTES + 1)
