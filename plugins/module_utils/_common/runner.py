# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one runner: a module's parameters to a spec, the engine's outcome to exit_json or fail_json."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError


def run_module(module, engine_class):
    """Run one engine for an AnsibleAWSModule and exit with its result.

    This is the only place a module's outcome is decided: a RotationError or
    a botocore error the engine let through fails the task here, and a Result
    with a `failure` fails it after every item was processed, carrying the
    whole result.
    """
    try:
        spec = engine_class.SPEC.from_params(module.params)
        limit = AdaptiveLimit(getattr(spec, "concurrency", 1))
        result = engine_class(Clients.from_ansible(module, limit), limit).run(spec, check_mode=module.check_mode)
    except RotationError as exc:
        module.fail_json(msg=str(exc), **exc.as_result())
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg="AWS request failed")
    values = result.for_module(diff_wanted=module._diff)
    if result.failure:
        module.fail_json(msg=result.failure, **values)
    module.exit_json(**values)
