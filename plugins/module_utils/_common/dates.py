# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Dates in results: ISO 8601 strings, so results serialise and compare."""

import datetime


def iso_date(value):
    return value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else value


def plain(value):
    """A structure with every date in it as an ISO 8601 string."""
    if isinstance(value, dict):
        return dict((name, plain(item)) for name, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return iso_date(value)
