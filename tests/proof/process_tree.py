"""Find and SIGKILL a process tree through /proc, including what left the playbook's session.

ansible-core 2.19 starts each worker in a session of its own (os.setsid), so
killing the playbook's process group leaves workers and their modules
running. `descendants` follows parent links instead, which no session or
process group change cuts. (An async job daemonizes, and its parent becomes
the nearest subreaper: see keeper.py.)
"""

import os
import signal
import time


def _processes():
    """{pid: (parent pid, state)} of every process visible now."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces or parentheses itself.
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(name)] = (int(fields[1]), fields[0])
    return found


def _alive(state):
    return state not in ("Z", "X")


def descendants(root):
    """The live pids whose ancestry leads to `root` (root included if alive)."""
    processes = _processes()
    children = {}
    for pid, (parent, _state) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, pending = set(), [root]
    while pending:
        pid = pending.pop()
        if pid in found or pid not in processes:
            continue
        found.add(pid)
        pending.extend(children.get(pid, []))
    return {pid for pid in found if _alive(processes[pid][1])}


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _signal(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill(find, timeout=10):
    """SIGSTOP everything `find()` returns until nothing new appears, then SIGKILL it all; the pids killed.

    Stopping first means no process can fork a child the walk has not seen. Returns once every one of them
    is dead (a zombie at most), so a look right after sees none of them.
    """
    stopped = set()
    while True:
        found = find() - stopped
        if not found:
            break
        _signal(found, signal.SIGSTOP)
        stopped |= found
    _signal(stopped, signal.SIGKILL)
    wait_gone(lambda: set(pid for pid, (_parent, state) in _processes().items() if pid in stopped and _alive(state)),
              timeout)
    return stopped


def wait_gone(find, timeout):
    """Wait until `find()` is empty; the pids still alive at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = find()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
