"""Headless Chromium (Debian's chromium and chromium-driver, installed by .ci/browser) driven by selenium, with
no network beyond loopback: for the browser tests and the README screenshots."""
from __future__ import annotations

import shutil
from typing import Any


class BrowserMissing(RuntimeError):
    pass


def chromium(width: int = 1280, height: int = 2000) -> Any:
    """A selenium Chrome driver that keeps the console log (``driver.get_log("browser")``). Every host name
    resolves to nothing and any proxy use fails, so a page that reaches out shows it as an error."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        raise BrowserMissing("needs chromium and chromedriver: run .ci/browser")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                 "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def console_errors(driver: Any) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def paste_and_tag(driver: Any, text: str, within_s: float = 120.0) -> list[Any]:
    """On the page at `/`: paste ``text``, press the button, wait for the paragraph rows or an error;
    returns the rows (none when the page shows an error)."""
    from selenium.webdriver.common.by import By

    area = driver.find_element(By.ID, "text")
    driver.execute_script("arguments[0].value = arguments[1];", area, text)  # what a paste leaves
    return press_tag(driver, within_s)


def press_tag(driver: Any, within_s: float = 120.0) -> list[Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("document.querySelector('#paragraphs tbody').replaceChildren()")  # no stale rows
    driver.find_element(By.ID, "tag").click()
    WebDriverWait(driver, within_s).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#paragraphs tr.paragraph")
        or d.find_element(By.ID, "error").is_displayed())
    return driver.find_elements(By.CSS_SELECTOR, "#paragraphs tr.paragraph")
