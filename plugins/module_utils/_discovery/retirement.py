# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The retirement gate: may the source key be retired, and if not, what holds it.

Three kinds of evidence come in, all in the `dependents` vocabulary:
- what the rotation's own phases report when they re-check their targets in
  check mode (`known`): each target's own module speaks for what it looked
  at, retained resources included;
- what discovery finds still using the key across services (`found`);
- what the gate itself read of the targets, whatever their phases were
  narrowed to (`examined`: every version of every target bucket, see
  targets.py), the uses of the key since the rotation started, and what
  resources moved away from the key by kms_service_rekey still hold of it
  (rekeyed.py), each with the date it is needed until.

A resource discovery finds that a re-check already reported on is judged by
the re-check, with one exception that discovery's own evidence decides: a
volume the re-check reports `retained` (kept aside as replaced) that
discovery finds attached to an instance is in use again, and blocks. Any
other resource found is one of this rotation's targets (its phase moves it),
or not: then it holds retirement back until it is added to the targets or
moved by its own service's procedure. What the gate examined is never hidden
by a re-check, except versions within a phase's narrowing that the phase's
re-check already reported on. A service or an answer that could not be read
holds retirement back too. Everything but `retained` holds retirement back;
in check mode, what this run's own phases would still move does not, since
the run would move it before the gate. `needed_until` is the latest date
(or "never") of what holds retirement back only until its data ages out.

Without a rotation (plain discovery) nothing is planned: everything found
holds the key, in check mode too.
"""

import collections

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, KINDS, RETAINED
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import TO_MOVE, UNKNOWN
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import holds_retirement
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import latest

# The service whose resources a rotation moves by its data-key phase whatever
# paths discovery was given: discovery only looks at the files the rotation names.
_ALWAYS_TARGETED = frozenset(["data_key_files"])


def _line(entry):
    return "[{0}] {1}: {2} - {3}".format(entry["kind"], entry["resource"], entry["count"], entry["reason"])


def _judged_by_this_rotation(entry):
    """A re-check's entry: a target's own module reported it, so a `to_move` one is this run's to move."""
    return dict(entry, planned=entry["kind"] == TO_MOVE)


def _found_elsewhere(entry, targets, rotation):
    """A discovery entry no re-check reported on."""
    if entry["kind"] == UNKNOWN:
        return dict(entry, planned=False)
    if not rotation:
        return dict(entry, planned=False)
    if entry["resource"] in targets or entry["service"] in _ALWAYS_TARGETED:
        return dict(entry, kind=TO_MOVE, planned=True, reason=entry["reason"] + "; a phase of this rotation moves it")
    advice = ("add it to this rotation's targets" if entry["kind"] == TO_MOVE
              else "move it with its own service's procedure")
    return dict(entry, planned=False, reason="{0}; {1}".format(entry["reason"], advice))


def _in_use_again(entry, retained):
    """A volume a re-check kept aside as replaced, which discovery finds attached: its phase will not move it."""
    return dict(entry, kind=BLOCKING, planned=False, reason=(
        "{0}; attached to {1}, so in use under the source key, although this rotation's re-check reports it "
        "retained ({2}): move it to the new key (or detach it and keep it aside), then verify again").format(
            entry["reason"], ", ".join(entry["attached_to"]), retained["reason"]))


def decide(known, found, examined=(), targets=(), ignore_services=(), check_mode=False, rotation=True):
    """The gate's answer: every dependent (with a `line` and `planned`), what holds retirement back, and the verdict.

    known: dependents from the rotation's re-checks of its own targets.
    found: dependents from discovery (kms_key_usage_info's own findings).
    examined: the gate's own dependents of the targets and of the key's use, each with `planned`.
    targets: resource names (in the vocabulary's naming) the rotation's phases move.
    ignore_services: services whose findings the user chose not to let hold retirement back.
    rotation: False for plain discovery, where no phase moves anything.
    """
    targets = frozenset(targets)
    ignored = frozenset(ignore_services)
    dependents = [_judged_by_this_rotation(entry) for entry in known]
    reported = collections.defaultdict(list)
    for entry in dependents:
        reported[entry["resource"]].append(entry)
    for entry in found:
        if entry["service"] in ignored:
            continue
        if entry["kind"] == UNKNOWN or entry["resource"] not in reported:
            dependents.append(_found_elsewhere(entry, targets, rotation))
            continue
        retained = [report for report in reported[entry["resource"]] if report["kind"] == RETAINED]
        if retained and entry.get("attached_to"):
            dependents.append(_in_use_again(entry, retained[0]))
    for entry in examined:
        if entry["service"] in ignored:
            continue
        rechecked = any(report["kind"] != RETAINED for report in reported.get(entry["resource"], []))
        if not (entry["planned"] and rechecked):
            dependents.append(dict(entry))
    for entry in dependents:
        entry["line"] = _line(entry)
    holding_back = [entry for entry in dependents
                    if holds_retirement(entry) and not (check_mode and entry["kind"] == TO_MOVE and entry["planned"])]
    by_kind = dict((kind, sum(1 for entry in dependents if entry["kind"] == kind)) for kind in KINDS)
    return {
        "dependents": dependents,
        "dependents_by_kind": by_kind,
        "holding_back": holding_back,
        "safe_to_retire": not holding_back,
        # Until when data that ages out holds the key (rekeyed.py): the latest date, "never", or None.
        "needed_until": latest([entry.get("needed_until") for entry in holding_back]),
    }
