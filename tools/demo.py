"""`make demo`: a complete KMS key rotation on the built-in local AWS endpoint.

Starts the endpoint, seeds a small estate under one key (alias, data-key
files, a versioned bucket, an unattached and an attached volume, a
snapshot), shows the key's rotation strategy, runs the collection's
playbook (kmsrotate.aws.rotate) with a generated inventory, saves a
screenshot of the HTML report (with Chromium, when `make browser` installed
it), proves the result, runs it again to show changed=0, and stops the
endpoint.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))

import yaml  # noqa: E402  pylint: disable=wrong-import-position

import browser  # noqa: E402  pylint: disable=wrong-import-position
import demo_estate  # noqa: E402  pylint: disable=wrong-import-position
from local_endpoint import LocalEndpoint  # noqa: E402  pylint: disable=wrong-import-position

OUTPUT = REPO / "demo-output"
BIN = pathlib.Path(sys.executable).parent


def banner(text):
    print("\n" + "=" * 78 + "\n== " + text + "\n" + "=" * 78, flush=True)


def ansible_env(endpoint):
    env = dict(os.environ)
    env.update(endpoint.env())
    # amazon.aws modules read the endpoint from AWS_URL; nothing in the role names it.
    env["AWS_URL"] = endpoint.url
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    env.update({"ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_DEPRECATION_WARNINGS": "False",
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable})
    return env


def run(command, env):
    """Run a command, echo its output, return (returncode, output)."""
    print("$ " + " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], env=env, cwd=str(REPO), capture_output=True, text=True,
                               check=False)
    print(completed.stdout + completed.stderr, flush=True)
    return completed.returncode, completed.stdout


def recap_changed(output):
    match = re.search(r"^demo\s*:.*?changed=(\d+).*?failed=(\d+)", output, re.MULTILINE)
    if not match:
        raise SystemExit("no PLAY RECAP line for host demo in the playbook output")
    return int(match.group(1)), int(match.group(2))


def screenshot_report(html_path):
    """Save a PNG of the HTML report beside it; without a browser, say how to get one (the demo goes on)."""
    png_path = pathlib.Path(html_path).with_suffix(".png")
    try:
        browser.screenshot(html_path, png_path)
    except browser.BrowserUnavailable as exc:
        print("No screenshot of the HTML report: {0}".format(exc))
        return
    print("Screenshot of the HTML report: {0}".format(png_path))


def main():
    started = time.monotonic()
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir()
    with LocalEndpoint(log_path=str(OUTPUT / "endpoint.log")) as endpoint:
        env = ansible_env(endpoint)
        banner("Seeding the estate on the local endpoint " + endpoint.url)
        estate = demo_estate.seed(endpoint, OUTPUT, data_keys=10, objects=100, versions=3)
        print("source key {0} ({1})\n{2} data-key files in {3}\nbucket {4}: {5} object versions\n"
              "volumes {6} (unattached) and {7} (attached to {8}), snapshot {9}".format(
                  estate.source_key_arn, estate.alias, len(estate.data_key_plaintexts), estate.data_key_dir,
                  estate.bucket, len(estate.object_versions), estate.unattached_volume_id, estate.attached_volume_id,
                  estate.instance_id, estate.snapshot_ids[0]))

        banner("The key's rotation strategy (kmsrotate.aws.kms_key_rotation)")
        run([BIN / "ansible", "localhost", "-c", "local", "-m", "kmsrotate.aws.kms_key_rotation", "-a",
             "key_id=" + estate.source_key_arn], env)

        host = estate.host_vars()
        host.update({"kms_rotation_report_dir": str(OUTPUT / "reports"), "kms_rotation_poll_interval": 2})
        inventory = OUTPUT / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"kms_rotation": {"hosts": {"demo": host}}}, sort_keys=False))
        print("inventory:\n" + inventory.read_text())
        playbook = [BIN / "ansible-playbook", "-i", inventory, REPO / "playbooks" / "rotate.yml"]

        banner("Rotation: ansible-playbook -i {0} playbooks/rotate.yml".format(inventory.relative_to(REPO)))
        code, output = run(playbook, env)
        changed, failed = recap_changed(output)
        if code or failed:
            raise SystemExit("the rotation failed (rc={0}); see the output above".format(code))

        banner("The evidence report")
        reports = sorted((OUTPUT / "reports").glob("rotation-demo-*.json"))
        report = json.loads(reports[-1].read_text())
        summary = report["summary"]
        print("JSON: {0}\nMarkdown: {1}\nHTML: {2}\n".format(reports[-1], summary["report_markdown"], summary["report_html"]))
        print(pathlib.Path(report["summary"]["report_markdown"]).read_text())
        screenshot_report(report["summary"]["report_html"])

        banner("Proof: every blob, object version, volume and snapshot under the new key, content unchanged")
        destination = report["summary"]["destination_key_arn"]
        problems = demo_estate.prove(endpoint, estate, destination)
        state = endpoint.client("kms").describe_key(KeyId=estate.source_key_arn)["KeyMetadata"]["KeyState"]
        if state != "Disabled":
            problems.append("the old key is {0}, not Disabled".format(state))
        for problem in problems:
            print("PROBLEM: " + problem)
        if problems:
            raise SystemExit("the proof found {0} problem(s)".format(len(problems)))
        print("OK: {0} data keys (same plaintext), {1} object versions (same bytes), the attached and unattached "
              "volumes and the snapshot are under {2}; the old key {3} is {4}.".format(
                  len(estate.data_key_plaintexts), len(estate.object_versions), destination, estate.source_key_arn,
                  state))
        print("(first run: changed={0})".format(changed))

        banner("Second run: nothing left to do, changed=0")
        code, output = run(playbook, env)
        changed, failed = recap_changed(output)
        if code or failed or changed:
            raise SystemExit("the second run was not a no-op: rc={0} changed={1} failed={2}".format(code, changed, failed))
        print("OK: second run changed=0.")
    banner("Done in {0:.0f} s; the endpoint is stopped. Outputs in {1}".format(time.monotonic() - started, OUTPUT))


if __name__ == "__main__":
    main()
