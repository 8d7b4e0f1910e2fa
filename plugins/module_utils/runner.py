# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one place a module turns an engine's outcome into exit_json/fail_json."""

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # amazon.aws's module base reports the missing SDK

from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError


def run_module(module, operation):
    """Run operation() -> result dict and exit the module with it.

    A result with `failed_reason` set fails the task after all its items were
    processed, carrying the full result so the user sees what did succeed.
    """
    try:
        result = operation()
    except RotationError as exc:
        module.fail_json(msg=str(exc), **exc.as_result())
    except (BotoCoreError, ClientError) as exc:
        module.fail_json_aws(exc, msg="AWS request failed")
    reason = result.pop("failed_reason", None)
    if reason:
        module.fail_json(msg=reason, **result)
    module.exit_json(**result)
