"""The web view in a real headless Chromium against `yunwang watch --web` (simulated city)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from security.audit import AuditTrail
from tests.dashboards.conftest import REPO, WatchWeb

OPERATOR = ("duty-officer", "operator", "correct horse battery")
AUDITOR = ("inspector", "auditor", "another long passphrase")
SCREENSHOT = REPO / "docs" / "web-view.png"


def click_fresh(browser: Any, selector: str) -> None:
    """Click what `selector` finds now, again if a redraw replaced it meanwhile."""

    def attempt(b: Any) -> bool:
        try:
            b.find_element(By.CSS_SELECTOR, selector).click()
        except StaleElementReferenceException:
            return False
        return True

    WebDriverWait(browser, 10).until(attempt)


def text_fresh(browser: Any, selector: str) -> str | None:
    try:
        return str(browser.find_element(By.CSS_SELECTOR, selector).text)
    except (StaleElementReferenceException, NoSuchElementException):
        return None


def attribute_fresh(browser: Any, selector: str, name: str) -> str | None:
    """An attribute of what `selector` finds now (None while a redraw replaces it)."""
    try:
        value = browser.find_element(By.CSS_SELECTOR, selector).get_attribute(name)
    except (StaleElementReferenceException, NoSuchElementException):
        return None
    return None if value is None else str(value)


def login(browser: webdriver.Chrome, url: str, user: str, password: str) -> None:
    browser.get(url + "login")
    browser.find_element(By.ID, "user").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "city-score")))


def fetch_status(browser: webdriver.Chrome, path: str) -> int:
    return int(
        browser.execute_async_script(
            "const done = arguments[1];"
            "fetch(arguments[0], {credentials: 'same-origin'}).then(r => done(r.status));",
            path,
        )
    )


def test_refused_without_a_session(watch_web: WatchWeb, browser: webdriver.Chrome) -> None:
    browser.get(watch_web.url)
    assert browser.current_url.endswith("/login")  # the page itself redirects to login
    browser.get(watch_web.url + "api/view")
    assert json.loads(browser.find_element(By.TAG_NAME, "body").text) == {"error": "login required"}


def test_three_roles_in_the_browser(
    watch_web: WatchWeb, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    # The admin (first login) creates the auditor and the operator in the page (三员分立):
    # the admin itself may neither act on warnings nor read the audit trail.
    login(browser, watch_web.url, "admin", watch_web.admin_password)
    for name, role, password in (AUDITOR, OPERATOR):
        for field in ("new-name", "new-password"):
            browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, "new-name").send_keys(name)
        browser.find_element(By.ID, "new-role").send_keys(role)
        browser.find_element(By.ID, "new-password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "#user-form button").click()
        WebDriverWait(browser, 10).until(EC.text_to_be_present_in_element((By.ID, "users"), name))
    assert not browser.find_elements(By.CSS_SELECTOR, "button.ack")  # admin may not acknowledge
    assert fetch_status(browser, "/api/audit") == 403  # nor read the audit trail
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 10).until(EC.url_contains("/login"))

    login(browser, watch_web.url, name, password)
    # The simulated city raises warnings within a few cycles; the page gets them by SSE.
    # Every cycle redraws the list: each read finds its element afresh.
    warning_id = WebDriverWait(browser, 120).until(
        lambda b: attribute_fresh(b, "button.ack", "data-ack")
    )
    row = f'tr[id="w-{warning_id}"]'
    assert (
        WebDriverWait(browser, 10).until(lambda b: attribute_fresh(b, row, "data-status")) == "open"
    )
    # The level counts are redrawn with the list: read afresh (a stale read failed a CI run).
    assert int(WebDriverWait(browser, 10).until(lambda b: text_fresh(b, "#levels b")) or "") >= 0
    assert browser.find_elements(By.CSS_SELECTOR, "#map .county")  # the extranet is drawn
    # The list is redrawn whenever the stream says something changed: find it afresh.
    click_fresh(browser, f'button.ack[data-ack="{warning_id}"]')
    browser.find_element(By.ID, "act-comment").send_keys("链路已报修 / line reported to carrier")
    browser.find_element(By.ID, "act-confirm").click()
    WebDriverWait(browser, 20).until(
        lambda b: attribute_fresh(b, row, "data-status") == "acknowledged"
    )
    assert name in (WebDriverWait(browser, 10).until(lambda b: text_fresh(b, row)) or "")
    assert fetch_status(browser, "/api/audit") == 403  # the operator does not read the audit trail
    click_fresh(browser, "#map .county")  # drill into a county
    WebDriverWait(browser, 10).until(EC.visibility_of_element_located((By.ID, "drawer-title")))
    browser.find_element(By.ID, "drawer-close").click()
    assert text_fresh(browser, ".warnings h2") == "预警"  # Chinese first
    click_fresh(browser, "#lang")
    WebDriverWait(browser, 10).until(lambda b: text_fresh(b, ".warnings h2") == "Warnings")
    click_fresh(browser, "#lang")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    browser.save_screenshot(str(tmp_path / "acknowledged.png"))

    # The auditor reads the trail in the page, the operator's acknowledgement in it.
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 10).until(EC.url_contains("/login"))
    login(browser, watch_web.url, AUDITOR[0], AUDITOR[2])
    WebDriverWait(browser, 10).until(
        EC.text_to_be_present_in_element((By.ID, "audit"), "warning.acknowledge")
    )
    assert (
        WebDriverWait(browser, 10).until(lambda b: text_fresh(b, "#audit-intact")) == "审计链完整"
    )
    assert not browser.find_elements(By.CSS_SELECTOR, "button.ack")  # the auditor may not act

    trail = AuditTrail(watch_web.home / "audit.jsonl")
    actions = {(r.actor, r.action, r.outcome) for r in trail.records()}
    assert any(action == "web.serve" for _, action, _ in actions)  # the console's start
    assert ("admin", "web.login", "success") in actions
    assert ("admin", "web.user.set", "success") in actions
    assert ("admin", "web.denied", "failure") in actions
    assert (name, "web.login", "success") in actions
    assert (AUDITOR[0], "web.audit.read", "success") in actions
    assert any(
        r.actor == name and r.action == "warning.acknowledge" and r.target == warning_id
        for r in trail.records()
    )
    assert not trail.verify()
