# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""sops-encrypted YAML and JSON files, for kms_data_key_rewrap: recognise one, find its KMS entries, edit them.

sops encrypts a file's values with one data key and keeps that data key,
wrapped by each master key, in the file's `sops` metadata map. An AWS KMS
entry is `{arn, enc, created_at, aws_profile, role?, context?}` under
`sops.kms`, or under `sops.key_groups[].kms` when key groups are used (Go
sops). Both the Python sops (1.18) and Go sops (3.x) name the encryption
context `context`; `encryption_context` is written by neither and is not read.

Re-wrapping an entry changes exactly two scalars, `enc` (the KMS ciphertext
of the data key, base64) and `arn`: ReEncrypt keeps the data key itself, so
the encrypted values, `lastmodified` and `mac` stay valid. The MAC is a hash
of the cleartext values encrypted with the data key (with `lastmodified` as
associated data); it does not cover the master-key entries.

The file is never re-serialised: the two scalars are replaced in the text,
where the parser says they are, in the quoting style they had, so comments,
key order, indentation, line endings and every other byte stay as they were.
The edited text is parsed again and must equal the original with only those
scalars changed, or nothing is written.

YAML needs PyYAML (always on an Ansible controller; on a managed host, where
the module runs, it may not be installed); JSON needs nothing.
"""

import copy
import json
import os
import re

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core on the controller
    HAS_YAML = False

from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.blob_format import NotABlob

SOPS = "sops"
# sops files are configuration, not data: a larger file is not taken for one.
MAX_SOPS_FILE_BYTES = 16 * 1024 * 1024
YAML_SYNTAX = "yaml"
JSON_SYNTAX = "json"

# A top-level `sops` key, as YAML (at column 0) or JSON writes it: checked before anything is parsed,
# so a wide glob over large text files does not parse each of them.
_SOPS_KEY = re.compile(r'(?m)^sops\s*:|"sops"\s*:')
_QUOTES = ("'", '"')


class KmsEntry(object):
    """One AWS KMS entry of a sops file: where it is, its recorded values, and the text spans of arn and enc.

    path: the keys leading to it in the document (("sops", "kms", 0), ...); where: the same in words.
    """

    __slots__ = ("path", "arn", "enc", "context", "spans")

    def __init__(self, path, arn, enc, context, spans):
        self.path = path
        self.arn = arn
        self.enc = enc
        self.context = context
        # {"arn": (start, end, quote), "enc": (...)}: character offsets of the scalar in the text, its quote ("" plain)
        self.spans = spans

    @property
    def where(self):
        return _where(self.path)


def _where(path):
    """A path in the document in words: sops.kms[0], sops.key_groups[1].kms[0]."""
    return "".join("[{0}]".format(part) if isinstance(part, int) else ("." + part if index else part)
                   for index, part in enumerate(path))


class SopsDocument(object):
    """A parsed sops file: its text, syntax, data (as parsed) and KMS entries."""

    __slots__ = ("text", "syntax", "data", "entries")

    def __init__(self, text, syntax, data, entries):
        self.text = text
        self.syntax = syntax
        self.data = data
        self.entries = entries

    def describe(self):
        return "sops {0}".format(self.syntax)

    def rewrite(self, changes):
        """The file's bytes with entries' arn and enc replaced: changes is [(entry, new_arn, new_enc)].

        Raises RuntimeError when the edited text would not parse to exactly the same data with only those
        values changed (nothing is written then).
        """
        expected = copy.deepcopy(self.data)
        edits = []
        for entry, new_arn, new_enc in changes:
            target = expected
            for part in entry.path:
                target = target[part]
            for name, value in (("arn", new_arn), ("enc", new_enc)):
                target[name] = value
                start, end, quote = entry.spans[name]
                edits.append((start, end, self._scalar(value, quote)))
        text = self.text
        for start, end, replacement in sorted(edits, reverse=True):
            text = text[:start] + replacement + text[end:]
        if _load(text, self.syntax) != expected:
            raise RuntimeError("editing the kms entries in place would change more than their arn and enc: left "
                               "alone (please report this file's layout)")
        return text.encode("utf-8")

    def _scalar(self, value, quote):
        if self.syntax == JSON_SYNTAX:
            return json.dumps(value)
        # Base64 and ARNs hold no quote, backslash or line break, so the value needs no escaping in any style.
        return quote + value + quote


def looks_like_sops(data):
    """Whether content may be a sops file (a cheap test of the text, before any parsing)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_SOPS_KEY.search(text))


def parse(data):
    """The SopsDocument of a file's content; raises NotABlob when it is not a sops-encrypted YAML or JSON file."""
    if len(data) > MAX_SOPS_FILE_BYTES:
        raise NotABlob("{0} bytes: larger than a sops file is taken to be ({1} bytes)".format(
            len(data), MAX_SOPS_FILE_BYTES))
    if not looks_like_sops(data):
        raise NotABlob("not a sops file: no top-level `sops` key (or not UTF-8 text)")
    text = data.decode("utf-8")
    syntax = JSON_SYNTAX if text.lstrip("\ufeff \t\r\n").startswith("{") else YAML_SYNTAX
    if syntax == YAML_SYNTAX and not HAS_YAML:
        raise NotABlob("a YAML sops file needs PyYAML on the host the module runs on (pip install PyYAML)")
    try:
        parsed, spans = _DOCUMENT_READERS[syntax](text)
    except (ValueError, _yaml_errors()) as exc:
        raise NotABlob("not a sops file: it does not parse as {0} ({1})".format(syntax.upper(), _first_line(exc)))
    metadata = parsed.get(SOPS) if isinstance(parsed, dict) else None
    if not isinstance(metadata, dict) or not ("kms" in metadata or "mac" in metadata):
        raise NotABlob("not a sops file: no top-level `sops` map with `kms` or `mac`")
    return SopsDocument(text, syntax, parsed, _kms_entries(metadata, spans))


def _first_line(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _yaml_errors():
    return yaml.YAMLError if HAS_YAML else ()


def _load(text, syntax):
    """The data of a text, read as parse() reads it."""
    return _DOCUMENT_READERS[syntax](text)[0]


def _kms_lists(metadata):
    """((path of the list, the list)) of every place sops keeps KMS entries."""
    yield (SOPS, "kms"), metadata.get("kms")
    groups = metadata.get("key_groups")
    if isinstance(groups, list):
        for index, group in enumerate(groups):
            if isinstance(group, dict):
                yield (SOPS, "key_groups", index, "kms"), group.get("kms")


def _kms_entries(metadata, spans):
    entries = []
    for list_path, items in _kms_lists(metadata):
        if not isinstance(items, list):
            continue  # absent, or null as Go sops writes an empty list in JSON
        for index, item in enumerate(items):
            path = list_path + (index,)
            if not isinstance(item, dict):
                continue
            found = dict((name, spans.get(path + (name,))) for name in ("arn", "enc"))
            if not all(isinstance(item.get(name), str) and found[name] for name in found):
                raise NotABlob("the sops entry {0} has no arn and enc strings".format(
                    _where(path)))
            context = item.get("context") or {}
            if not isinstance(context, dict) or not all(isinstance(name, str) and isinstance(value, str)
                                                        for name, value in context.items()):
                raise NotABlob("the sops entry {0} has a context that is not a map of strings".format(
                    _where(path)))
            entries.append(KmsEntry(path, item["arn"], item["enc"], context, found))
    return entries


# YAML ---------------------------------------------------------------------


def _yaml_document(text):
    """(data, {path: (start, end, quote)} of every scalar value under sops) of a YAML text."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    spans = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == SOPS:
                _yaml_spans(value, (SOPS,), spans)
    return data, spans


def _yaml_spans(node, path, spans):
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _yaml_spans(value, path + (key.value,), spans)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            _yaml_spans(value, path + (index,), spans)
    elif isinstance(node, yaml.ScalarNode) and (node.style or "") in ("",) + _QUOTES:
        # Block scalars (| and >) are left out: their text is not the value, so they cannot be edited in place.
        spans[path] = (node.start_mark.index, node.end_mark.index, node.style or "")


# JSON ---------------------------------------------------------------------

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _json_document(text):
    """(data, {path: (start, end, '"')} of every string value) of a JSON text."""
    spans = {}
    start = _JSON_SPACE.match(text, 1 if text.startswith("\ufeff") else 0).end()
    data, end = _json_value(text, start, (), spans)
    if _JSON_SPACE.match(text, end).end() != len(text):
        raise ValueError("extra data after the JSON document")
    return data, spans


def _json_value(text, index, path, spans):
    """(value, end) of the JSON value at index, recording the span of each string value by its path."""
    char = text[index:index + 1]
    if char == "{":
        return _json_container(text, index, path, spans, "}", {})
    if char == "[":
        return _json_container(text, index, path, spans, "]", [])
    value, end = _DECODER.raw_decode(text, index)
    if isinstance(value, str):
        spans[path] = (index, end, '"')
    return value, end


def _json_container(text, index, path, spans, closing, container):
    index = _JSON_SPACE.match(text, index + 1).end()
    if text[index:index + 1] == closing:
        return container, index + 1
    while True:
        if isinstance(container, dict):
            key, index = _DECODER.raw_decode(text, index)
            if not isinstance(key, str):
                raise ValueError("an object key is not a string at offset {0}".format(index))
            index = _JSON_SPACE.match(text, index).end()
            if text[index:index + 1] != ":":
                raise ValueError("expected ':' at offset {0}".format(index))
            index = _JSON_SPACE.match(text, index + 1).end()
            container[key], index = _json_value(text, index, path + (key,), spans)
        else:
            value, index = _json_value(text, index, path + (len(container),), spans)
            container.append(value)
        index = _JSON_SPACE.match(text, index).end()
        char = text[index:index + 1]
        if char == closing:
            return container, index + 1
        if char != ",":
            raise ValueError("expected ',' or {0!r} at offset {1}".format(closing, index))
        index = _JSON_SPACE.match(text, index + 1).end()


_DOCUMENT_READERS = {YAML_SYNTAX: _yaml_document, JSON_SYNTAX: _json_document}

# Reading -------------------------------------------------------------------


class SopsLayout(object):
    """The layout of a sops file, for blob_files' writers: the new content is the whole edited file."""

    __slots__ = ("document",)
    blob_format = SOPS

    def __init__(self, document):
        self.document = document

    def encode(self, content):
        return content

    def describe(self):
        return self.document.describe()


def read_sops_file(path, required):
    """The file's blob_files.BlobFile, its blob the SopsDocument; raises NotABlob (or OSError).

    Not required (format=auto): None for a file that is not text with a top-level `sops` key, to be read as a
    blob. Such text (it holds a colon) is never base64, so it cannot be a blob either way.
    """
    real_path = os.path.realpath(path)
    with open(real_path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if stat.st_size > MAX_SOPS_FILE_BYTES and not required:
            return None
        data = handle.read(MAX_SOPS_FILE_BYTES + 1)
    if not required and not looks_like_sops(data):
        return None
    document = parse(data)
    return blob_files.BlobFile(path, real_path, document, SopsLayout(document), stat, data)
