"""kms_data_key_rewrap's argument rules: what the module refuses before the engine runs."""

import pytest


@pytest.fixture
def validate(module_arguments):
    return module_arguments("kms_data_key_rewrap")


def test_nothing_to_do_is_an_error(validate):
    errors = validate({"destination_key_id": "alias/new"})
    assert errors == ["one of the following is required: paths, ciphertext_blobs"]


@pytest.mark.parametrize("given", [{"paths": ["/etc/app/*.key"]}, {"ciphertext_blobs": ["AAAA"]},
                                   {"paths": ["/etc/app/a.key"], "ciphertext_blobs": ["AAAA"]}])
def test_paths_or_inline_blobs_are_enough(validate, given):
    assert validate(dict(given, destination_key_id="alias/new")) == []


def test_format_is_one_of_the_known_formats(validate):
    errors = validate({"destination_key_id": "alias/new", "paths": ["/etc/app/a.key"], "format": "pem"})
    assert len(errors) == 1 and "format" in errors[0] and "auto, base64, binary" in errors[0]
