# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The contract every engine keeps: Spec in, Result out.

    engine = SomeEngine(clients, limit)        # clients: a Clients; limit: an AdaptiveLimit
    result = engine.run(SomeSpec.from_params(module.params), check_mode)

An engine never sees the module and never exits; it raises RotationError for
what a user can act on and returns a Result for everything else. The runner
(runner.run_module) owns the rest: building the spec, clients and limit,
--diff, and turning the outcome into exit_json or fail_json.
"""

import copy

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError


class Spec(object):
    """A module's options as plain values, the input of one engine run.

    FIELDS names the options (by their module option names) with the value an
    option takes when it is not given; RANGES bounds numeric options, which an
    Ansible argument spec cannot express (see docs/developing.md), as
    (lowest, highest) or (lowest, highest, who sets the bounds), None for no bound.
    """

    FIELDS = {}
    RANGES = {}

    def __init__(self, **values):
        unknown = sorted(set(values) - set(self.FIELDS))
        if unknown:
            raise TypeError("{0} has no option {1}".format(type(self).__name__, ", ".join(unknown)))
        for name, default in self.FIELDS.items():
            value = values.get(name)
            setattr(self, name, copy.deepcopy(default) if value is None else value)
        for name, bounds in self.RANGES.items():
            self._check_range(name, getattr(self, name), *bounds)

    @classmethod
    def from_params(cls, params):
        """The spec of a module's validated parameters (options the spec does not use are left out)."""
        return cls(**dict((name, params[name]) for name in cls.FIELDS if name in params))

    @staticmethod
    def _check_range(name, value, lowest, highest, authority="this module"):
        if value is None:
            return
        if (lowest is not None and value < lowest) or (highest is not None and value > highest):
            bounds = "{0} to {1}".format(lowest, highest) if highest is not None else "at least {0}".format(lowest)
            raise RotationError("{0} is {1}; {2} accepts {3}.".format(name, value, authority, bounds),
                                fix="give {0} a value of {1}.".format(name, bounds))


class Result(object):
    """What an engine hands back.

    values: the module's documented result keys, `changed` among them.
    diff: the before/after for --diff (a dict, or a list of per-file dicts), or None.
    failure: a message that fails the task once every item was processed; the values go with it,
    so the user sees what did succeed.
    """

    __slots__ = ("values", "diff", "failure")

    def __init__(self, values, diff=None, failure=None):
        self.values = values
        self.diff = diff
        self.failure = failure

    def for_module(self, diff_wanted):
        result = dict(self.values)
        if diff_wanted and self.diff is not None:
            result["diff"] = self.diff
        return result


class Engine(object):
    """Base of every engine: SPEC is its Spec class; run() does the job."""

    SPEC = Spec

    def __init__(self, clients, limit):
        self.clients = clients
        self.limit = limit

    def run(self, spec, check_mode=False):
        raise NotImplementedError
