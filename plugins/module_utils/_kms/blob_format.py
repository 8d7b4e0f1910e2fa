# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a stored KMS ciphertext blob looks like, for kms_data_key_rewrap: tell one apart, decode it, encode it back.

A blob is checked for the shape every KMS symmetric ciphertext has before any
request is made, so a large file or a plaintext config file matched by a wide
glob is reported as "not a blob" instead of being sent to KMS:

- KMS accepts a CiphertextBlob of at most 6,144 bytes (8,192 characters as
  base64); a file much larger than that is refused from its size alone,
  without being read;
- KMS encrypts with AES-256-GCM (a 12-byte IV and a 16-byte tag), so a blob
  holds at least 29 bytes;
- a binary blob is never text: its IV, tag and ciphertext are random bytes.

AWS's blobs also start with a header (a version byte 0x01, ...), but AWS
documents it only as an opaque "cleartext portion", it has changed between
versions, and emulators (moto, LocalStack) lay blobs out differently. A blob
refused here is not reported as a dependent of any key, so refusing a real
one would let its key be retired under it: the header is not required.

Base64 text may be wrapped (as the `base64` command writes it, 76 columns),
with LF or CRLF line endings: it is decoded ignoring the line breaks and
written back with the same line width, line ending and surrounding white space.
"""

import base64
import binascii
import re

# sops files (sops_files) are one more format of kms_data_key_rewrap; `auto` recognises them too.
FORMATS = ("auto", "base64", "binary", "sops")
BASE64 = "base64"
BINARY = "binary"

# KMS's bounds of a CiphertextBlob (the API's CiphertextType).
MAX_BLOB_BYTES = 6144
MAX_BASE64_CHARS = 4 * ((MAX_BLOB_BYTES + 2) // 3)
# AES-GCM's 12-byte IV and 16-byte tag around at least one byte.
MIN_BLOB_BYTES = 12 + 16 + 1
# The largest file read at all: twice the base64 form, room for line breaks (CRLF at any width of 2 or more).
MAX_FILE_BYTES = 2 * MAX_BASE64_CHARS

_LINE_BREAK = re.compile(rb"\r?\n")
_WHITESPACE = b" \t\r\n\f\v"
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


class NotABlob(ValueError):
    """Content that cannot be a KMS ciphertext blob (the message says why)."""


class Layout(object):
    """How a file holds its blob, to write another blob back the same way.

    width: the base64 line width of wrapped text (None: one line); line_ending: b"\\n" or b"\\r\\n";
    leader, trailer: the white space before and after the base64 text.
    """

    __slots__ = ("blob_format", "width", "line_ending", "leader", "trailer")

    def __init__(self, blob_format, width=None, line_ending=b"\n", leader=b"", trailer=b""):
        self.blob_format = blob_format
        self.width = width
        self.line_ending = line_ending
        self.leader = leader
        self.trailer = trailer

    def encode(self, blob):
        if self.blob_format == BINARY:
            return blob
        text = base64.b64encode(blob)
        if self.width:
            text = self.line_ending.join(text[start:start + self.width] for start in range(0, len(text), self.width))
        return self.leader + text + self.trailer

    def describe(self):
        """The layout in words, for results: `binary`, `base64`, `base64 wrapped at 76 (CRLF)`."""
        if self.blob_format == BINARY or not self.width:
            return self.blob_format
        return "base64 wrapped at {0} ({1})".format(self.width, "CRLF" if self.line_ending == b"\r\n" else "LF")


def too_large(size):
    """Why content of this many bytes cannot be a blob, or None."""
    if size > MAX_FILE_BYTES:
        return "{0} bytes: larger than a KMS ciphertext blob can be ({1} bytes, {2} as base64)".format(
            size, MAX_BLOB_BYTES, MAX_BASE64_CHARS)
    return None


def check_shape(blob, what="the blob"):
    """Raise NotABlob unless blob has the size bounds of a KMS ciphertext."""
    if not MIN_BLOB_BYTES <= len(blob) <= MAX_BLOB_BYTES:
        raise NotABlob("{0} is {1} bytes; a KMS ciphertext blob is {2} to {3} bytes".format(
            what, len(blob), MIN_BLOB_BYTES, MAX_BLOB_BYTES))


def decode_base64(text):
    """The bytes of base64 text, line breaks (LF or CRLF) ignored; None when it is not base64."""
    try:
        return base64.b64decode(_LINE_BREAK.sub(b"", text), validate=True) or None
    except (binascii.Error, ValueError):
        return None


def _base64_layout(leader, body, trailer):
    lines = _LINE_BREAK.split(body)
    first_break = _LINE_BREAK.search(body)
    return Layout(BASE64, width=len(lines[0]) if len(lines) > 1 else None,
                  line_ending=first_break.group(0) if first_break else b"\n", leader=leader, trailer=trailer)


def _is_text(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in _TEXT_CONTROLS for char in text)


def decode(data, requested_format):
    """(blob, Layout) of a file's content; raises NotABlob when it cannot be a KMS ciphertext blob.

    `auto` reads content that is base64 text (less surrounding white space, line
    breaks ignored) as base64 and anything else as raw bytes: a binary KMS blob
    is never base64 text.
    """
    if not data:
        raise NotABlob("the file is empty")
    reason = too_large(len(data))
    if reason:
        raise NotABlob(reason)
    if requested_format in ("auto", BASE64):
        body = data.strip(_WHITESPACE)
        blob = decode_base64(body) if body else None
        if blob is not None:
            check_shape(blob, "the base64 text's blob")
            leader = data[:len(data) - len(data.lstrip(_WHITESPACE))]
            return blob, _base64_layout(leader, body, data[len(leader) + len(body):])
        if requested_format == BASE64:
            raise NotABlob("the content is not base64 text (format=base64; use format=binary for raw blobs)")
    if _is_text(data):
        if requested_format == BINARY:
            raise NotABlob("the file is text, not a raw KMS ciphertext blob (format=binary; use format=auto for "
                           "base64 text)")
        raise NotABlob("the file is text but not base64: not a KMS ciphertext blob (a plaintext file matched by "
                       "paths?)")
    check_shape(data)
    return data, Layout(BINARY)
