#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/async_wait.py), on the controller;
# this file documents it, as ansible.builtin does for its action-only modules.

DOCUMENTATION = r"""
module: async_wait
short_description: Wait for an async task, printing its progress at each poll
version_added: 0.2.0
description:
  - "Polls an async job (a task started with C(async) and C(poll: 0)) with M(ansible.builtin.async_status) until it
    finishes, and prints one line per poll in the play's output (a terminal, AWX, any stdout callback), so a phase of
    hours shows its counts moving instead of C(FAILED - RETRYING)."
  - When O(progress_file) names the progress file the job's module writes (option C(progress_file) of
    M(kmsrotate.aws.s3_kms_recopy) and M(kmsrotate.aws.ebs_kms_migrate)), each line carries its counts, rate and
    estimated time left; otherwise the line says how long the job has been running.
  - Returns the job's own result, like the last M(ansible.builtin.async_status) poll; the task fails if the job failed
    or if it is still running after O(timeout) seconds (the job itself is left running).
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  jid:
    description: The job id, C(ansible_job_id) of the async task's registered result.
    type: str
    required: true
  label:
    description: What the job does, at the start of each line.
    type: str
    default: job
  progress_file:
    description:
      - The job's progress file, read on the managed host at each poll. A file not written yet, unreadable or not
        JSON is not an error; the line then says only how long the job has been running.
    type: path
  poll_interval:
    description: Seconds between two polls, at least 1.
    type: int
    default: 10
  timeout:
    description: Seconds to wait for the job before the task fails, at least 1.
    type: int
    default: 86400
notes:
  - Supports check mode; it only reads, and a job started in check mode is polled the same way.
  - Runs on the controller, as an action; the job status and the progress file are read on the managed host.
seealso:
  - module: ansible.builtin.async_status
"""

EXAMPLES = r"""
- name: Start re-keying a bucket
  kmsrotate.aws.s3_kms_recopy:
    bucket: billing-archive
    destination_key_id: alias/billing
    progress_file: /var/lib/kms-rotation/billing-archive.progress.json
  async: 86400
  poll: 0
  register: recopy_job

- name: Wait for it, printing its counts every 30 seconds
  kmsrotate.aws.async_wait:
    jid: "{{ recopy_job.ansible_job_id }}"
    label: S3 bucket billing-archive
    progress_file: /var/lib/kms-rotation/billing-archive.progress.json
    poll_interval: 30
  register: recopy
# Printed at each poll, for example:
# S3 bucket billing-archive: 120000 done, 41.7/s; scanned 120000, rekeyed 119000, blocking 2 (running 2880 s)
"""

RETURN = r"""
finished:
  description: Whether the job finished (always true unless the task failed on O(timeout)).
  returned: always
  type: bool
polls:
  description: How many times the job was polled.
  returned: always
  type: int
  sample: 12
progress:
  description: The last content of O(progress_file) read, if any.
  returned: when O(progress_file) was read
  type: dict
"""
