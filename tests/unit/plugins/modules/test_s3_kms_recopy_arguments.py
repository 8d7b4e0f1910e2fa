"""s3_kms_recopy's argument rules: what the engine no longer checks itself."""

REQUIRED = {"bucket": "b", "destination_key_id": "alias/k"}


def test_an_unknown_method_is_refused_by_its_choices(module_arguments):
    validate = module_arguments("s3_kms_recopy")
    (error,) = validate(dict(REQUIRED, method="rsync"))
    assert "method" in error and "auto, update, copy" in error
    assert validate(dict(REQUIRED, method="copy")) == []


def test_bucket_and_destination_are_required(module_arguments):
    (error,) = module_arguments("s3_kms_recopy")({})
    assert "bucket" in error and "destination_key_id" in error
