"""The rotation's HTML report as a reader sees it, in a real headless Chromium.

Two role runs over one estate: a data-key file whose name holds `<script>` and
`&`, hard-linked so the collection will not replace it (a dependent that
holds retirement back). The first run
is refused by the gate; the second forces the retirement. Each run's HTML
report is opened in the browser, which has no network.
"""

import os

import pytest

import browser
from test_rotation_role import key_state, latest_report, rotate, successors, write_inventory

# A file name cannot hold "/", so the tag stays open: still markup to a careless template.
HOSTILE_NAME = "<script>alert(1)&co.key"


@pytest.fixture
def chromium():
    reason = browser.missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no browser for the HTML report test under CI: " + reason)
        pytest.skip(reason)
    with browser.headless_chromium() as driver:
        yield driver


def _read(driver, path):
    """(visible text of the page, its title), after checking it is self-contained and has no script."""
    requested = browser.open_file(driver, path)
    assert requested == [], requested
    assert driver.find_elements("tag name", "script") == []
    return driver.find_element("tag name", "body").text, driver.title


def _seed(aws, tmp_path):
    kms = aws.client("kms")
    source = kms.create_key(Description="report test key")["KeyMetadata"]["Arn"]
    keys = tmp_path / "keys"
    keys.mkdir()
    hostile = keys / HOSTILE_NAME
    hostile.write_bytes(kms.encrypt(KeyId=source, Plaintext=b"a data key")["CiphertextBlob"])
    # A second name for the same file, outside the paths: the collection leaves a hard-linked file alone.
    os.link(str(hostile), str(tmp_path / "other-name.key"))
    host = {"kms_rotation_source_key": source, "kms_rotation_data_key_paths": [str(hostile)]}
    return source, hostile, write_inventory(tmp_path / "inventory.yml", {"report": host})


@pytest.mark.slow
def test_html_report_shows_the_gate_dependents_and_a_forced_retirement(aws, playbook, tmp_path, chromium):
    kms = aws.client("kms")
    source, hostile, inventory = _seed(aws, tmp_path)

    refused = rotate(playbook, inventory, tmp_path)
    assert refused.rc != 0, refused
    [destination] = successors(kms, source)
    page = latest_report(tmp_path, ".html")
    raw = page.read_text()
    # Escaped by Jinja, so the browser shows the name as text and runs nothing.
    assert "&lt;script&gt;alert(1)&amp;co.key" in raw and HOSTILE_NAME not in raw
    text, title = _read(chromium, page)
    assert source in text and destination in text
    assert "holding_back: 1 thing(s) still need the source key, so it was not retired" in text, text
    holding = chromium.find_element("id", "holding-back").text
    assert str(hostile) in holding and "hard links" in holding, holding
    dependents = chromium.find_element("id", "dependents")
    assert dependents.is_displayed() and str(hostile) in dependents.text
    files = chromium.find_element("id", "counts-files").text
    assert "skipped" in files and "rewrapped" in files, files
    assert "Retire | refuse while something still needs the source key" in text
    assert chromium.find_elements("id", "forced-banner") == [] and "FORCED" not in title and "FORCED" not in text
    assert key_state(kms, source) == "Enabled"

    forced = rotate(playbook, inventory, tmp_path, extra_vars={"kms_rotation_force_retire": True})
    assert forced.rc == 0, forced
    assert key_state(kms, source) == "Disabled"
    text, title = _read(chromium, latest_report(tmp_path, ".html"))
    assert title.startswith("RETIREMENT FORCED"), title
    banner = chromium.find_element("id", "forced-banner")
    assert banner.is_displayed() and "RETIREMENT FORCED" in banner.text and source in banner.text
    # Loud and first: the banner is the page's first element, at the top of the window.
    first = chromium.execute_script("return document.body.firstElementChild.id")
    assert first == "forced-banner" and banner.location["y"] < 20, (first, banner.location)
    assert "retired anyway (FORCED)" in chromium.find_element("id", "gate-decision").text
    assert str(hostile) in chromium.find_element("id", "holding-back").text
