"""Shared set-up for the benchmark scripts: endpoint, timing, printing."""

import os
import pathlib
import subprocess
import sys
import time

TESTS = pathlib.Path(__file__).resolve().parent.parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))

from local_endpoint import LocalEndpoint  # noqa: E402  pylint: disable=wrong-import-position
from playbook import PlaybookRunner  # noqa: E402  pylint: disable=wrong-import-position

COLLECTIONS = REPO / ".build" / "collections"
VENV_BIN = pathlib.Path(sys.executable).parent


class Stopwatch:
    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc_info):
        self.seconds = time.monotonic() - self.start


def playbook_runner(endpoint, workdir):
    return PlaybookRunner(endpoint, pathlib.Path(workdir), collections_path=str(COLLECTIONS))


def cli_env(endpoint):
    env = dict(os.environ)
    env.update(endpoint.env())
    env["PATH"] = "{0}{1}{2}".format(VENV_BIN, os.pathsep, env.get("PATH", ""))
    return env


def run_cli(command, env):
    return subprocess.run(command, env=env, capture_output=True, check=True)


def print_table(title, rows, columns):
    print("\n" + title)
    widths = [max(len(str(column)), *(len(str(row.get(column, ""))) for row in rows)) for column in columns]
    print("  ".join(str(column).ljust(width) for column, width in zip(columns, widths)))
    for row in rows:
        print("  ".join(str(row.get(column, "")).ljust(width) for column, width in zip(columns, widths)))


__all__ = ["LocalEndpoint", "Stopwatch", "playbook_runner", "cli_env", "run_cli", "print_table", "REPO"]
