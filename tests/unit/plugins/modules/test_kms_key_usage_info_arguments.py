"""kms_key_usage_info's argument rules, as ansible-core checks them."""


def test_unknown_service_name_is_refused(module_arguments):
    validate = module_arguments("kms_key_usage_info")
    assert validate({"key_id": "alias/app"}) == []
    errors = validate({"key_id": "alias/app", "services": ["s4"]})
    assert len(errors) == 1 and "services" in errors[0] and "s4" in errors[0]
