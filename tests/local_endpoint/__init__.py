"""A local AWS endpoint for tests, the demo and the benchmarks.

`LocalEndpoint` starts `python -m local_endpoint` (moto plus this project's
fidelity and fault layers) in its own process on 127.0.0.1, waits until it
listens, and stops it. Use it as a context manager:

    with LocalEndpoint() as endpoint:
        kms = endpoint.client("kms")
        endpoint.set_faults([{"kind": "throttle", "service": "kms", "rate": 0.2}], seed=1)
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

REGION = "us-east-1"
# moto's fixed account; fake credentials so nothing can ever reach real AWS.
ACCOUNT_ID = "123456789012"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LocalEndpoint:
    def __init__(self, startup_timeout=60.0, log_path=None, enforce_iam=False):
        """enforce_iam: moto authorizes every request by IAM (see iam_enforcement); CREDENTIALS stay an admin."""
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self.enforce_iam = enforce_iam
        self.port = None
        self._process = None
        self._log = None
        self._tmpdir = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._tmpdir = tempfile.mkdtemp(prefix="local-endpoint-")
        ready_file = os.path.join(self._tmpdir, "port")
        self._log = open(self.log_path or os.path.join(self._tmpdir, "server.log"), "ab")  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(__file__)),
                                                          env.get("PYTHONPATH")]))
        if self.enforce_iam:
            # moto.settings reads it at import: authorize from the first request on.
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        else:
            env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        self._process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "local_endpoint", "--port", "0", "--ready-file", ready_file],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.startup_timeout
        while not os.path.exists(ready_file):
            if self._process.poll() is not None:
                raise RuntimeError(f"local endpoint exited with {self._process.returncode}; log: {self._log.name}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"local endpoint did not start in {self.startup_timeout}s; log: {self._log.name}")
            time.sleep(0.05)
        with open(ready_file, encoding="utf-8") as handle:
            self.port = int(handle.read())
        return self

    def stop(self):
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # Control API ---------------------------------------------------------

    def _control(self, route, method="GET", payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}/_kmsrotate/{route}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def reset(self):
        """Forget every resource, fault, counter and fidelity switch."""
        return self._control("reset", "POST", {})

    def set_faults(self, rules, seed=0):
        """Replace the fault rules (see faults.FaultRule for their fields)."""
        return self._control("faults", "POST", {"rules": rules, "seed": seed})

    def clear_faults(self):
        return self._control("faults", "DELETE")

    def faults(self):
        return self._control("faults")["rules"]

    def set_fidelity(self, **switches):
        return self._control("fidelity", "POST", switches)

    def control(self, route, payload=None, method="POST"):
        """Call a control route a fidelity module registered (fidelity.CONTROL_ROUTES)."""
        return self._control(route, method, payload if payload is not None else {})

    def stats(self):
        """Requests served since the last reset, as {"service:Action": count}."""
        return self._control("stats")

    def clear_stats(self):
        return self._control("stats", "DELETE")

    # Clients -------------------------------------------------------------

    def env(self):
        """Environment for a process (ansible-playbook, the AWS CLI) using this endpoint."""
        return {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": self.url, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def client(self, service, region=REGION, **config):
        """A boto3 client of this endpoint.

        botocore puts the account id in front of S3 Control's host even for a custom endpoint
        (`123456789012.127.0.0.1:<port>`, which does not resolve): an s3control client uses the endpoint
        as its own HTTP proxy, which gets the absolute-form request line and serves it (werkzeug keeps
        the path; fidelity/s3control_batch.py ignores the Host).
        """
        import boto3
        from botocore.config import Config

        if service == "s3control":
            config = {"proxies": {"http": self.url}, **config}
        return boto3.client(
            service, region_name=region, endpoint_url=self.url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(**{"retries": {"mode": "standard", "total_max_attempts": 3}, **config}),
        )
