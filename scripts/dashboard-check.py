#!/usr/bin/env python3
"""Drives the dashboard of a running `sluice serve` in headless Chromium.

    .venv-ci/bin/python scripts/dashboard-check.py --url http://127.0.0.1:PORT --key KEY \
        --campaign ID --sender PHONE_NUMBER_ID --screenshots DIR

The campaign must be one whose sends the endpoint fails in part with 131026 (the
end-to-end test sets that up). Checks, in order: a bad key is refused and the page stays
on sign-in; the good key signs in (kept in sessionStorage only: not in the URL, no
cookie); the campaign's progress bar reaches done; the number's chart has drawn points; a
tier change shows; the campaign page shows the 131026 failures and the drill-down table,
filters and pages it, exports the CSV; the retry creates a new campaign, which a pause
then stops. Screenshots of each page go to DIR. Exit 0 when every check passed.

Debian's chromium and chromedriver are named explicitly, so Selenium Manager never runs
and nothing is downloaded; the browser talks to the loopback server only.
"""
import argparse
import os
import sys
import tempfile
import time

# Selenium Manager must not look anything up, even if it were reached.
os.environ["SE_OFFLINE"] = "true"

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.selenium_manager import SeleniumManager  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _no_selenium_manager(*_):
    raise AssertionError("Selenium Manager was asked for a browser or driver: this check uses Debian's, named")


# Selenium asks its Manager only for what is not named; fail rather than let it look.
SeleniumManager.binary_paths = _no_selenium_manager


def step(text):
    print(f"dashboard-check: {text}", flush=True)


def browser(downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1440,1000", "--no-first-run", "--disable-extensions",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-default-apps", "--disable-sync", "--metrics-recording-only"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
    })
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def wait(driver, seconds, condition, what):
    try:
        # The page redraws every second: an element found a moment ago may be replaced.
        return WebDriverWait(driver, seconds, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: condition(d))
    except TimeoutException:
        error = driver.find_element(By.ID, "error")
        shown = error.text if error.is_displayed() else ""
        raise AssertionError(f"{what}: not within {seconds} s (error shown: {shown!r})") from None


def visible(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def attributes(driver, selector, name):
    """An attribute of every element that matches, read in one go (no stale elements)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))", selector, name)


def sign_in(driver, key):
    field = driver.find_element(By.ID, "key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--sender", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--timeout", type=float, default=120, help="seconds the campaign may take to finish")
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    downloads = tempfile.mkdtemp(prefix="sluice-dashboard-downloads-")
    driver = browser(downloads)
    driver.set_page_load_timeout(30)
    try:
        check(driver, args, downloads)
    except AssertionError:
        # What the page showed when a check failed.
        driver.save_screenshot(os.path.join(args.screenshots, "failure.png"))
        print(driver.find_element(By.TAG_NAME, "main").text[:3000], file=sys.stderr, flush=True)
        raise
    finally:
        driver.quit()
    step("every check passed")


def check(driver, args, downloads):
    campaign = args.campaign
    driver.get(args.url + "/")
    wait(driver, 10, lambda d: d.current_url.endswith("/ui/") and visible(d, "view-sign-in"), "/ redirects to the sign-in page")

    sign_in(driver, "sk_key_0000000000000000_bad")
    wait(driver, 10, lambda d: visible(d, "error") and "not valid" in d.find_element(By.ID, "error").text, "a bad key is refused")
    assert visible(driver, "view-sign-in") and not visible(driver, "view-campaigns"), "a bad key stays on sign-in"
    assert driver.execute_script("return sessionStorage.getItem('sluice.key')") is None, "a refused key is not kept"
    step("a bad key is refused with the server's message")

    sign_in(driver, args.key)
    wait(driver, 10, lambda d: visible(d, "view-campaigns"), "the good key signs in")
    assert args.key not in driver.current_url, "the key is not in the URL"
    assert driver.get_cookies() == [], "no cookie is set"
    assert driver.execute_script("return sessionStorage.getItem('sluice.key')") == args.key, "the key is in sessionStorage"
    assert "admin" in driver.find_element(By.ID, "who").text
    step("signed in; the key is in sessionStorage only")

    bar = f"tr[data-campaign='{campaign}'] [role=progressbar]"
    wait(driver, args.timeout, lambda d: (d.find_elements(By.CSS_SELECTOR, bar) or [None])[0] is not None
         and d.find_element(By.CSS_SELECTOR, bar).get_attribute("data-state") == "done", "the campaign's progress bar shows it done")
    progress = driver.find_element(By.CSS_SELECTOR, bar)
    assert progress.get_attribute("aria-valuenow") == progress.get_attribute("aria-valuemax"), "a done campaign's bar is full"
    row = driver.find_element(By.CSS_SELECTOR, f"tr[data-campaign='{campaign}']")
    assert "promo" in row.text and args.sender in row.text, row.text
    driver.save_screenshot(os.path.join(args.screenshots, "campaigns.png"))
    step(f"campaign {campaign} shows done ({progress.get_attribute('aria-valuenow')} of {progress.get_attribute('aria-valuemax')})")

    driver.find_element(By.CSS_SELECTOR, "nav a[data-view=numbers]").click()
    card = f"article[data-sender='{args.sender}']"
    wait(driver, 15, lambda d: int((d.find_elements(By.CSS_SELECTOR, f"{card} polyline.sent") or [None])[0].get_attribute("data-points") or 0) >= 3
         if d.find_elements(By.CSS_SELECTOR, f"{card} polyline.sent") else False, "the number's chart has points")
    drawn = driver.execute_script(
        "const p = document.querySelector(arguments[0]); const b = p.getBBox(); return [p.points.numberOfItems, b.width, b.height];",
        f"{card} polyline.sent")
    assert drawn[0] >= 3 and drawn[1] > 0, f"the sent line is drawn: {drawn}"
    tier_form = driver.find_element(By.CSS_SELECTOR, f"{card} form.tier-form")
    assert tier_form.is_displayed(), "an admin key sees the tier change"
    tier_input = tier_form.find_element(By.TAG_NAME, "input")
    tier_input.send_keys("120")
    tier_form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, 10, lambda d: "120/s" in d.find_element(By.CSS_SELECTOR, f"{card} .figures").text, "the tier change shows")
    driver.save_screenshot(os.path.join(args.screenshots, "numbers.png"))
    step(f"the chart of {args.sender} has {drawn[0]} points; the tier changed to 120/s")

    driver.find_element(By.CSS_SELECTOR, "nav a[data-view=campaigns]").click()
    driver.find_element(By.CSS_SELECTOR, f"tr[data-campaign='{campaign}'] td a").click()
    wait(driver, 10, lambda d: visible(d, "view-campaign") and d.find_elements(By.CSS_SELECTOR, "#failures tr[data-code='131026']"),
         "the failure breakdown has a 131026 row")
    failed = int(driver.find_element(By.CSS_SELECTOR, "#failures tr[data-code='131026'] td.number").text)
    counted = int(driver.find_element(By.CSS_SELECTOR, "#counts tr[data-state='failed'] td").text)
    assert failed > 0 and failed == counted, f"131026 failures {failed}, failed count {counted}"
    wait(driver, 10, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#messages tbody tr")) > 0, "the drill-down table has rows")
    step(f"the campaign page shows {failed} failures with 131026 and the messages")

    Select(driver.find_element(By.ID, "filter-state")).select_by_visible_text("failed")
    Select(driver.find_element(By.ID, "filter-limit")).select_by_visible_text("25")
    driver.find_element(By.CSS_SELECTOR, "#message-filter button[type=submit]").click()
    state_cells = "#messages tbody tr td:nth-child(4)"
    wait(driver, 10, lambda d: d.find_elements(By.CSS_SELECTOR, state_cells)
         and all(c.text == "failed" for c in d.find_elements(By.CSS_SELECTOR, state_cells))
         and len(d.find_elements(By.CSS_SELECTOR, state_cells)) == min(failed, 25), "the filter shows failed messages only")
    first_page = attributes(driver, "#messages tbody tr", "data-message")
    errors = driver.execute_script("return [...document.querySelectorAll('#messages tbody tr td:nth-child(6)')].map(c => c.textContent)")
    assert all("131026" in text for text in errors), errors
    if failed > 25:
        assert visible(driver, "next-page"), "more than a page: 'Next page' is offered"
        driver.find_element(By.ID, "next-page").click()
        wait(driver, 10, lambda d: attributes(d, "#messages tbody tr", "data-message")[:1] != first_page[:1], "the next page shows other messages")
        second = attributes(driver, "#messages tbody tr", "data-message")
        assert not set(second) & set(first_page), "pages do not overlap"
        step(f"filtered to failed: {len(first_page)} then {len(second)} messages on the next page")

    driver.find_element(By.ID, "export").click()
    name = os.path.join(downloads, f"campaign-{campaign}-messages.csv")
    wait(driver, 15, lambda d: os.path.exists(name) and os.path.getsize(name) > 0, "the CSV export is saved")
    with open(name, encoding="utf-8") as f:
        lines = f.read().strip().splitlines()
    assert lines[0].startswith("id,to,external_id,state") and len(lines) == failed + 1, f"{len(lines)} lines for {failed} failed"
    step(f"the CSV export holds {len(lines) - 1} rows")
    driver.save_screenshot(os.path.join(args.screenshots, "campaign.png"))

    driver.find_element(By.ID, "retry").click()
    wait(driver, 15, lambda d: visible(d, "retry-result") and d.find_elements(By.ID, "retry-link"), "the retry shows the new campaign")
    link = driver.find_element(By.ID, "retry-link")
    retry = link.text.lstrip("#")
    assert f"with {failed} messages" in driver.find_element(By.ID, "retry-result").text
    link.click()
    wait(driver, 10, lambda d: d.current_url.endswith(f"#/campaign/{retry}") and f"a retry of #{campaign}" in d.find_element(By.ID, "campaign-summary").text,
         "the retry's own page")
    pause = driver.find_element(By.CSS_SELECTOR, "#view-campaign button[data-action=pause]")
    if pause.is_displayed():
        pause.click()
        wait(driver, 10, lambda d: d.find_element(By.CSS_SELECTOR, "#view-campaign button[data-action=resume]").is_displayed()
             or d.find_element(By.ID, "error").is_displayed(), "the pause answers")
        error = driver.find_element(By.ID, "error")
        # A retry of a few messages may be done before the click lands: 409 from the server.
        assert not error.is_displayed() or "cannot pause" in error.text, error.text
        step(f"retry campaign {retry} created and paused" if not error.is_displayed() else f"retry campaign {retry} was done before the pause: {error.text}")
    else:
        step(f"retry campaign {retry} created (done before a pause)")

    driver.find_element(By.CSS_SELECTOR, "nav a[data-view=campaigns]").click()
    wait(driver, 10, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-campaign='{retry}']"), "the retry is listed")
    rows = attributes(driver, "#campaigns tbody tr", "data-campaign")
    assert rows.index(retry) < rows.index(campaign), "newest first"

    driver.find_element(By.ID, "sign-out").click()
    wait(driver, 10, lambda d: visible(d, "view-sign-in"), "signing out returns to sign-in")
    assert driver.execute_script("return sessionStorage.getItem('sluice.key')") is None, "signing out forgets the key"
    step("signed out; the key is forgotten")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"dashboard-check: FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
