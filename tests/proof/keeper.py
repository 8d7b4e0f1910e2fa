"""Run one command as its keeper: a child subreaper that adopts whatever the command leaves running.

    python keeper.py STATUS_FILE COMMAND [ARG...]

An async job daemonizes (double fork) and is adopted by the nearest
subreaper among its ancestors: without one, init; with this keeper, the
keeper. So the job stays outside the command's process tree, as it would in
real life, but a test still finds it among the keeper's descendants, and the
keeper reaps it. The command's exit code goes to STATUS_FILE (written to a
temporary name, then renamed) as soon as the command ends; the keeper exits
once nothing it adopted runs any more.
"""

import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    status_file, command = sys.argv[1], sys.argv[2:]
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("keeper: prctl(PR_SET_CHILD_SUBREAPER) failed: {0}".format(os.strerror(ctypes.get_errno())))
    child = os.fork()
    if child == 0:
        os.execvp(command[0], command)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return
        if pid == child:
            with open(status_file + ".tmp", "w", encoding="utf-8") as handle:
                handle.write(str(os.waitstatus_to_exitcode(status)))
            os.replace(status_file + ".tmp", status_file)


if __name__ == "__main__":
    main()
