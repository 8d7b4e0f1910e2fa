"""Module argument rules, checked the way AnsibleModule checks them, without running a module.

`module_arguments("kms_data_key_rewrap")` runs the module's main() with
AnsibleAWSModule replaced by a recorder, and returns `validate(params)`: the
list of error messages ansible-core's ArgumentSpecValidator gives for those
parameters under the module's own argument spec and rules (empty when valid).
"""

import importlib

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

_RULES = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


class _Recorded(Exception):
    pass


@pytest.fixture
def module_arguments(monkeypatch):
    def load(name):
        module = importlib.import_module("ansible_collections.kmsrotate.aws.plugins.modules." + name)
        recorded = {}

        def record(**kwargs):
            recorded.update(kwargs)
            raise _Recorded()

        monkeypatch.setattr(module, "AnsibleAWSModule", record)
        with pytest.raises(_Recorded):
            module.main()
        validator = ArgumentSpecValidator(recorded["argument_spec"],
                                          **dict((rule, recorded[rule]) for rule in _RULES if rule in recorded))

        def validate(params):
            return [str(error) for error in validator.validate(dict(params)).errors]
        return validate
    return load
