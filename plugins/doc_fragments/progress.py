# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The live progress file of the long-running modules."""


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  progress_file:
    description:
      - While the task runs, keep this small JSON file up to date with its progress, for whoever watches a long run
        (M(kmsrotate.aws.async_wait) prints it at each poll of an async task).
      - "It holds C(target), C(unit), C(counts) (named counts, such as C(scanned), C(rekeyed), C(blocking)),
        C(done) of C(total) units (C(total) is null when not known in advance), C(rate_per_second) since the start,
        C(eta_seconds) (estimated seconds left, null without a total), C(started_at), C(updated_at), C(finished) and
        C(failed)."
      - Written when the work starts, at most every 2 seconds while it moves, and once at the end; each write replaces
        the whole file atomically (a temporary file beside it, then a rename). Not set, no file is written.
    type: path
"""
