# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one exception the engines raise for a problem the user can act on."""


class RotationError(Exception):
    """A failure that names what failed, the resource, and how to fix it.

    Engines raise it instead of exiting; the module front end turns it into
    fail_json once, at the top (see runner.run_module).
    """

    def __init__(self, message, resource=None, fix=None, details=None):
        super().__init__(message)
        self.message = message
        self.resource = resource
        self.fix = fix
        self.details = details or {}

    def __str__(self):
        text = self.message
        if self.resource and self.resource not in text:
            text = "{0}: {1}".format(self.resource, text)
        if self.fix:
            text = "{0}{1} Fix: {2}".format(text, "" if text.endswith(".") else ".", self.fix)
        return text

    def as_result(self):
        """Fields for fail_json besides msg."""
        result = dict(self.details)
        if self.resource:
            result["resource"] = self.resource
        if self.fix:
            result["fix"] = self.fix
        return result
