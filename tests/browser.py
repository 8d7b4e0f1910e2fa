"""A real headless browser for the HTML report: Chromium from the Debian packages, driven by Selenium.

`make browser` installs /usr/bin/chromium and /usr/bin/chromedriver. The
browser starts with a fresh profile and no network: the report must need
none (no external assets), and a request it made would show in the page's
resource timing, which the tests read.
"""

import contextlib
import os
import shutil
import tempfile

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = "install Chromium and its driver with `make browser` (Debian packages chromium, chromium-driver)"


class BrowserUnavailable(Exception):
    """No usable Chromium or Selenium on this machine, or it failed; str() says what to do."""


def missing():
    """Why no browser can start here (None when Chromium, its driver and Selenium are all present)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return "{0} is missing: {1}".format(path, INSTALL_HINT)
    try:
        import selenium  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "selenium is not installed in this Python: `make venv` (requirements-dev.txt)"
    return None


@contextlib.contextmanager
def headless_chromium(width=1280, height=900):
    """A Selenium WebDriver of headless Chromium; raises BrowserUnavailable when it cannot start."""
    reason = missing()
    if reason:
        raise BrowserUnavailable(reason)
    # pylint: disable=import-outside-toplevel
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="kmsrotate-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     "--window-size={0},{1}".format(width, height), "--user-data-dir=" + profile,
                     # Any host name resolves nowhere: a page that fetched something would fail to.
                     "--host-resolver-rules=MAP * ~NOTFOUND"):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        raise BrowserUnavailable("Chromium did not start ({0}): {1}".format(exc.msg, INSTALL_HINT)) from exc
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_file(driver, path):
    """Load a local file and return the URLs of every resource the page requested (none for a self-contained page)."""
    driver.get("file://" + os.path.abspath(str(path)))
    return driver.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")


def screenshot(path, png_path):
    """Save a PNG of the page at path (its full height); raises BrowserUnavailable when no browser can do it."""
    with headless_chromium() as driver:
        # Importable now: headless_chromium() found Selenium.
        from selenium.common.exceptions import WebDriverException  # pylint: disable=import-outside-toplevel

        try:
            open_file(driver, path)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, max(900, min(int(height) + 40, 12000)))
            saved = driver.save_screenshot(str(png_path))
        except WebDriverException as exc:
            raise BrowserUnavailable("Chromium failed to take the screenshot: {0}".format(exc.msg)) from exc
    if not saved:
        raise BrowserUnavailable("Chromium could not save a screenshot to {0}".format(png_path))
