# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Write each task's start and end to a file as it happens, for the proof suite's kill points.

The JSON stdout callback prints nothing until the play ends; the chaos test
must know, while a run goes on, which task is starting, so this notification
callback appends one JSON line per event to $KMSROTATE_PROOF_PROGRESS and
flushes it at once.
"""

DOCUMENTATION = """
name: proof_progress
type: notification
short_description: task starts and ends as JSON lines, for the proof suite
description:
  - Appends C({"event", "task", "host", "time"}) lines to the file named by C(KMSROTATE_PROOF_PROGRESS).
requirements:
  - enabled in callbacks_enabled
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

PROGRESS_ENV = "KMSROTATE_PROOF_PROGRESS"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "proof_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get(PROGRESS_ENV)
        self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115  # pylint: disable=consider-using-with

    def _write(self, event, task, host=None):
        if self._file is None:
            return
        self._file.write(json.dumps({"event": event, "task": task.get_name(), "host": host, "time": time.time()}) + "\n")
        self._file.flush()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write("start", task)

    def v2_runner_on_ok(self, result):
        self._write("ok", result.task, result.host.get_name())

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write("failed", result.task, result.host.get_name())

    def v2_runner_on_skipped(self, result):
        self._write("skipped", result.task, result.host.get_name())
