# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""parliament lints every policy shipped in docs/iam/ (docs/iam/README.md).

parliament's command line is run as `make test` would: `--files` (its `--file`
wants a terminal), `--json`, one finding a line, exit 1 on any finding. Its
newest release (1.6.4) does not know two actions this collection needs; those
two UNKNOWN_ACTION findings, and no other, are allowed. An allowed finding
that stops occurring (a newer parliament knows the action) is fine.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
POLICIES = sorted((REPO / "docs" / "iam").glob("*.json"))
PARLIAMENT = os.path.join(os.path.dirname(sys.executable), "parliament")
# Actions AWS documents that parliament 1.6.4's IAM definitions predate.
ALLOWED_UNKNOWN_ACTIONS = {"s3:UpdateObjectEncryption", "kms:GetKeyLastUsage"}
# What docs/iam/README.md tells a user to replace in every ARN.
PLACEHOLDER_ACCOUNT, PLACEHOLDER_REGION = "111122223333", "eu-west-1"
USES = {"plan", "key", "data_keys", "s3", "s3_batch", "ebs", "services", "retirement"}


def parliament(*paths):
    completed = subprocess.run([PARLIAMENT, "--json", "--files", ",".join(str(path) for path in paths)],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=120)
    findings = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return completed.returncode, findings, completed.stderr


def _allowed(finding):
    return finding["issue"] == "UNKNOWN_ACTION" and finding["location"].get("string") in ALLOWED_UNKNOWN_ACTIONS


def test_one_policy_per_use():
    assert {path.stem for path in POLICIES} == USES


def test_parliament_finds_nothing_but_the_actions_it_does_not_know():
    returncode, findings, stderr = parliament(*POLICIES)
    unexpected = [finding for finding in findings if not _allowed(finding)]
    assert unexpected == [], json.dumps(unexpected, indent=1)
    # Its exit status agrees with what it printed: it really read the files.
    assert returncode == (1 if findings else 0), stderr


def test_parliament_reports_a_finding_in_a_policy_like_ours(tmp_path):
    """The lint can fail: a policy of the same shape with one wrong action is reported."""
    policy = json.loads(POLICIES[0].read_text())
    policy["Statement"][0]["Action"] = ["kms:ReEncryptFromm"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(policy, indent=2))
    returncode, findings, _stderr = parliament(broken)
    assert returncode == 1
    assert [finding["location"]["string"] for finding in findings if finding["issue"] == "UNKNOWN_ACTION"] == [
        "kms:ReEncryptFromm"]


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.stem)
def test_every_statement_names_its_actions_and_uses_the_documented_placeholders(path):
    """No action wildcards; every ARN in the example account and region the README says to replace."""
    assert "`{0}`".format(path.name) in (REPO / "docs" / "iam" / "README.md").read_text()
    for statement in json.loads(path.read_text())["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Sid"], statement
        assert all("*" not in action for action in statement["Action"]), statement
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            if resource == "*":
                continue
            # S3 bucket and EC2 snapshot ARNs have no account, S3 and IAM ones no region.
            _arn, _partition, _service, region, account, _rest = resource.split(":", 5)
            assert region in (PLACEHOLDER_REGION, "") and account in (PLACEHOLDER_ACCOUNT, ""), resource


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.stem)
def test_each_policy_fits_a_managed_policy(path):
    """IAM counts a managed policy's characters without white space: at most 6,144."""
    assert len("".join(path.read_text().split())) <= 6144
