# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""kmsrotate.aws.async_wait: poll an async job, printing a line per poll (documented in plugins/modules/async_wait.py).

An `until` loop over async_status prints only "FAILED - RETRYING" per poll,
whatever the job knows. This action polls the same way (async_status's
module, with the async directory the shell option names, as the builtin
action does), reads the job's progress file on the managed host with slurp,
and prints through Display, which a worker process hands to the controller's
output as it happens: in a terminal, in AWX, under any stdout callback.
"""

import base64
import json
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


def progress_line(label, progress, elapsed, expected=True):
    """One line for a poll: the progress file's counts when there is one, else only the time running.

    expected: whether the job writes a progress file (not written yet, it says so).
    """
    running = "running {0} s".format(int(elapsed))
    if not progress:
        return "{0}: {1}{2}".format(label, running, ", no progress reported yet" if expected else "")
    done = "{0} {1} done".format(progress.get("done", 0), progress.get("unit") or "units")
    if progress.get("total") is not None:
        done += " of {0}".format(progress["total"])
    parts = [done, "{0}/s".format(progress.get("rate_per_second", 0))]
    if progress.get("eta_seconds") is not None:
        parts.append("about {0} s left".format(progress["eta_seconds"]))
    counts = ", ".join("{0} {1}".format(name, value) for name, value in (progress.get("counts") or {}).items())
    return "{0}: {1}{2} ({3}, updated {4})".format(
        label, ", ".join(parts), "; " + counts if counts else "", running, progress.get("updated_at", "?"))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def _async_dir(self):
        # Where the async wrapper writes job results: the same lookup as ansible.builtin.async_status.
        return self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))

    def _status(self, jid, task_vars):
        status = self._execute_module(module_name="ansible.legacy.async_status",
                                      module_args={"jid": jid, "_async_dir": self._async_dir()}, task_vars=task_vars)
        # ansible-core 2.17's async_status reports started/finished as 0/1.
        for flag in ("started", "finished"):
            if flag in status:
                status[flag] = bool(status[flag])
        return status

    def _progress(self, path, task_vars):
        """The progress file's content, or None when it is not there (yet) or not JSON."""
        read = self._execute_module(module_name="ansible.legacy.slurp", module_args={"src": path},
                                    task_vars=task_vars)
        if read.get("failed") or "content" not in read:
            return None
        try:
            content = json.loads(base64.b64decode(read["content"]).decode("utf-8"))
        except ValueError:
            return None
        return content if isinstance(content, dict) else None

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no effect any more
        _validation, args = self.validate_argument_spec(argument_spec={
            "jid": {"type": "str", "required": True},
            "label": {"type": "str", "default": "job"},
            "progress_file": {"type": "path"},
            "poll_interval": {"type": "int", "default": 10},
            "timeout": {"type": "int", "default": 86400},
        })
        for name in ("poll_interval", "timeout"):
            if args[name] < 1:
                result.update(failed=True, msg="{0} is {1}; async_wait accepts at least 1.".format(name, args[name]))
                return result
        host = (task_vars or {}).get("inventory_hostname", "")
        label = "[{0}] {1}".format(host, args["label"]) if host else args["label"]
        started = time.monotonic()
        polls = 0
        progress = None
        while True:
            polls += 1
            status = self._status(args["jid"], task_vars)
            if args["progress_file"]:
                progress = self._progress(args["progress_file"], task_vars) or progress
            elapsed = time.monotonic() - started
            if status.get("finished") or status.get("failed"):
                break
            display.display(progress_line(label, progress, elapsed, expected=bool(args["progress_file"])))
            if elapsed + args["poll_interval"] > args["timeout"]:
                status.update(failed=True, msg=(
                    "{0} is still running after {1} s (timeout {2} s); the job goes on: wait for it again, or raise "
                    "the timeout.").format(args["label"], int(elapsed), args["timeout"]))
                break
            time.sleep(args["poll_interval"])
        result.update(status)
        result["polls"] = polls
        if progress is not None:
            result["progress"] = progress
        return result
