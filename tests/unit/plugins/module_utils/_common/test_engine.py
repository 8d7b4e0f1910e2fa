"""The engine contract: Spec from module parameters, ranges, Result for the runner."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError


class _Spec(Spec):
    FIELDS = {"names": [], "size": 10, "mode": None, "names_limit": 5}
    RANGES = {"size": (1, 100, "S3"), "names_limit": (1, None)}


def test_from_params_takes_only_the_spec_options_and_fills_defaults():
    spec = _Spec.from_params({"names": ["a"], "region": "us-east-1", "profile": None})
    assert (spec.names, spec.size, spec.mode) == (["a"], 10, None)


def test_none_means_the_default_and_defaults_are_never_shared():
    first, second = _Spec(names=None), _Spec()
    first.names.append("x")
    assert second.names == []


def test_unknown_option_is_a_programming_error():
    with pytest.raises(TypeError, match="colour"):
        _Spec(colour="blue")


@pytest.mark.parametrize("size", [0, 101])
def test_ranges_are_refused_before_any_work(size):
    with pytest.raises(RotationError, match="size is {0}; S3 accepts 1 to 100".format(size)):
        _Spec(size=size)


def test_an_open_range_names_its_lower_bound():
    with pytest.raises(RotationError, match="names_limit is 0; this module accepts at least 1"):
        _Spec(names_limit=0)


def test_result_carries_diff_only_when_asked_for():
    result = Result({"changed": True, "count": 1}, diff={"before": 1, "after": 2}, failure=None)
    assert result.for_module(diff_wanted=False) == {"changed": True, "count": 1}
    assert result.for_module(diff_wanted=True)["diff"] == {"before": 1, "after": 2}
    assert Result({"changed": False}).for_module(diff_wanted=True) == {"changed": False}
