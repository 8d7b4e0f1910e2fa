# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one way this collection reads a paginated listing.

A listing is fetched a chunk at a time (MaxItems items, then the resume token
botocore hands back), each chunk under aws_retry on its own: a throttled page
is fetched again from the last token instead of restarting the listing, and
memory holds one chunk, however long the listing is.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry

# Items per chunk when the caller names no page size.
CHUNK_ITEMS = 1000


@aws_retry
def _chunk(paginator, params, token, page_size):
    """One chunk of pages and the token to resume after it, retried as a unit."""
    config = {"MaxItems": page_size or CHUNK_ITEMS}
    if page_size:
        # Only for operations that take a page size (their paginator has a limit key).
        config["PageSize"] = page_size
    if token:
        config["StartingToken"] = token
    pages = paginator.paginate(PaginationConfig=config, **params)
    return list(pages), pages.resume_token


def pages(client, operation, page_size=None, **params):
    """Every page of `operation`'s listing, streamed."""
    paginator = client.get_paginator(operation)
    token = None
    while True:
        chunk, token = _chunk(paginator, params, token, page_size)
        yield from chunk
        if not token:
            return


def items(client, operation, result_key, page_size=None, **params):
    """Every entry under `result_key` of every page, streamed."""
    for page in pages(client, operation, page_size=page_size, **params):
        yield from page.get(result_key, [])
