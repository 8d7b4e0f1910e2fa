"""Every module is its argument spec and one run_module(module, Engine) call, and its Spec agrees with it."""

import importlib
import pkgutil

import pytest

from ansible_collections.kmsrotate.aws.plugins import action, modules

# A module file whose name an action plugin has is its documentation only (as ansible.builtin's are).
ACTIONS = sorted(name for _finder, name, _ispkg in pkgutil.iter_modules(action.__path__))
MODULES = sorted(name for _finder, name, _ispkg in pkgutil.iter_modules(modules.__path__) if name not in ACTIONS)


class _Stop(Exception):
    pass


def _contract(monkeypatch, name):
    """(argument_spec, engine class) as the module's main() hands them to AnsibleAWSModule and run_module."""
    module = importlib.import_module("ansible_collections.kmsrotate.aws.plugins.modules." + name)
    seen = {}

    def ansible_module(**kwargs):
        seen["argument_spec"] = kwargs["argument_spec"]
        return "module"

    def run_module(ansible, engine_class):
        assert ansible == "module"
        seen["engine"] = engine_class
        raise _Stop()

    monkeypatch.setattr(module, "AnsibleAWSModule", ansible_module)
    monkeypatch.setattr(module, "run_module", run_module)
    with pytest.raises(_Stop):
        module.main()
    return seen["argument_spec"], seen["engine"]


def test_every_module_is_found():
    assert MODULES == ["ebs_kms_migrate", "kms_data_key_rewrap", "kms_key_policy_guard", "kms_key_retire",
                       "kms_key_rotation", "kms_key_usage_info", "kms_service_rekey", "kms_successor_key",
                       "s3_kms_recopy"]
    assert ACTIONS == ["async_wait"]


@pytest.mark.parametrize("name", MODULES)
def test_the_spec_has_exactly_the_modules_options_and_its_defaults(monkeypatch, name):
    argument_spec, engine = _contract(monkeypatch, name)
    fields = engine.SPEC.FIELDS
    assert set(fields) == set(argument_spec), name
    for option, rules in argument_spec.items():
        # An option without a default (None) takes the Spec's empty value; any other default must agree.
        if rules.get("default") is not None:
            assert fields[option] == rules["default"], "{0}: {1}".format(name, option)
