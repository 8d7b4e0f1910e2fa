"""Run real `ansible-playbook` processes against the local endpoint.

Results come back through the ansible.posix.json stdout callback, parsed into
a PlaybookRun; a failed expectation prints Ansible's own output.

Inline task lists are wrapped in a play whose module_defaults point the
`group/kmsrotate.aws.aws` action group at the endpoint, which is how users
set region and endpoint for a whole play. Playbooks given by path (the
collection's own) get the endpoint through the AWS_URL environment variable
instead, which amazon.aws reads like any other credential source.
"""

import json
import os
import subprocess
import sys

import yaml

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# The discard port on loopback: nothing listens there.
DEAD_ENDPOINT = "http://127.0.0.1:9"


class PlaybookRun:
    def __init__(self, command, completed):
        self.command = command
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        start = self.stdout.find("{")
        try:
            self.data = json.loads(self.stdout[start:]) if start >= 0 else {}
        except ValueError:
            self.data = {}

    def __repr__(self):
        return "PlaybookRun(rc={0})\n--- stdout ---\n{1}\n--- stderr ---\n{2}".format(
            self.rc, self.stdout[-20000:], self.stderr[-5000:])

    def _task_entries(self):
        for play in self.data.get("plays", []):
            yield from play.get("tasks", [])

    def results(self, task_name, host="localhost"):
        """Every result of the tasks with this name (a role's task names work too)."""
        found = [task["hosts"][host] for task in self._task_entries()
                 if task["task"]["name"] == task_name and host in task["hosts"]]
        return found

    def result(self, task_name, host="localhost"):
        found = self.results(task_name, host)
        assert found, "no task named {0!r} ran for {1}\n{2!r}".format(task_name, host, self)
        assert len(found) == 1, "task {0!r} ran {1} times".format(task_name, len(found))
        return found[0]

    def stats(self, host="localhost"):
        return self.data.get("stats", {}).get(host, {})

    @property
    def changed(self):
        return self.stats().get("changed", 0)

    @property
    def failures(self):
        stats = self.stats()
        return stats.get("failures", 0) + stats.get("unreachable", 0)


class PlaybookRunner:
    """ansible_bin_dir: where another ansible-core's ansible-playbook is (default: this Python's)."""

    def __init__(self, endpoint, workdir, collections_path, ansible_bin_dir=None):
        self.endpoint = endpoint
        self.workdir = workdir
        self.collections_path = collections_path
        self.ansible_playbook = os.path.join(ansible_bin_dir, "ansible-playbook") if ansible_bin_dir else ANSIBLE_PLAYBOOK
        self._count = 0

    def play(self, tasks, play_vars=None, name="test"):
        """A one-play playbook around `tasks`, with module_defaults for the endpoint."""
        return [{
            "name": name,
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "module_defaults": {"group/kmsrotate.aws.aws": {
                "endpoint_url": "{{ aws_endpoint_url }}", "region": "us-east-1"}},
            "vars": play_vars or {},
            "tasks": tasks,
        }]

    def environment(self, endpoint_in_env=False):
        env = dict(os.environ)
        env.update({
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_COLLECTIONS_PATH": self.collections_path,
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
        })
        endpoint_env = self.endpoint.env()
        if not endpoint_in_env:
            # Only module_defaults may point modules at the endpoint. Anything that
            # ignores them meets a closed loopback port, never real AWS.
            endpoint_env["AWS_ENDPOINT_URL"] = DEAD_ENDPOINT
        else:
            endpoint_env["AWS_URL"] = self.endpoint.url
        env.update(endpoint_env)
        return env

    def run(self, tasks=None, playbook=None, check=False, diff=False, extra_vars=None, inventory=None,
            tags=None, play_vars=None, extra_args=(), timeout=900, env=None, endpoint_in_env=None):
        """Run inline `tasks` or a `playbook` path; return a PlaybookRun.

        endpoint_in_env defaults to True for a playbook path (it has no
        module_defaults of ours) and False for inline tasks.
        """
        self._count += 1
        if endpoint_in_env is None:
            endpoint_in_env = playbook is not None
        if playbook is None:
            playbook = self.workdir / "playbook-{0}.yml".format(self._count)
            playbook.write_text(yaml.safe_dump(self.play(tasks, play_vars), sort_keys=False))
        variables = {"aws_endpoint_url": self.endpoint.url}
        variables.update(extra_vars or {})
        vars_file = self.workdir / "extra-vars-{0}.json".format(self._count)
        vars_file.write_text(json.dumps(variables))
        command = [self.ansible_playbook, str(playbook), "-e", "@{0}".format(vars_file)]
        command += ["-i", str(inventory) if inventory else "localhost,"]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if tags:
            command += ["--tags", ",".join(tags)]
        command += list(extra_args)
        environment = self.environment(endpoint_in_env)
        environment.update(env or {})
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment,
                                   cwd=str(self.workdir), check=False)
        return PlaybookRun(command, completed)
