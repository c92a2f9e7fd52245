#!/usr/bin/python3
"""The box's page in a real browser: headless Chromium (Debian's chromium and chromium-driver,
driven by Debian's python3-selenium) loads the page of a running ringlab-box with its token,
submits a short training run with the page's own button, sees the loss and accuracy charts
update at least three times, and sees the run in the history. Keeps a screenshot.

Usage: tools/box_browser_test.py [--screenshot PATH] [--device-seconds S]
Exit 0 when every check holds; prints what it saw.
"""
import argparse
import os
import re
import shutil
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from box_support import ROOT, RunningBox, verdict


def row_text(driver, job):
    """The run history's row for `job`, read in one step in the page (the table is redrawn
    every 2 s, so an element found first may be gone by the time it is read)."""
    return driver.execute_script(
        f"const row = document.querySelector(\"#runs tbody tr[data-id='{job}']\"); return row ? row.innerText : '';")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--screenshot", default=os.path.join(ROOT, "test-artifacts/box-page.png"))
    parser.add_argument("--device-seconds", default="20")
    arguments = parser.parse_args()
    box = RunningBox("browser")
    port, token = box.port, box.token
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1300"]:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    failures = []
    try:
        driver.get(f"http://127.0.0.1:{port}/#token={token}")
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: d.find_element(By.ID, "connection").text == "connected")
        print("page connected with the token")
        if "token" in driver.current_url:
            failures.append("the token stayed in the address bar")
        seconds = driver.find_element(By.ID, "device-seconds")
        seconds.clear()
        seconds.send_keys(arguments.device_seconds)
        driver.find_element(By.CSS_SELECTOR, "#submit-training button").click()
        wait.until(lambda d: "queued job" in d.find_element(By.ID, "submit-result").text)
        job = int(re.search(r"queued job (\d+)", driver.find_element(By.ID, "submit-result").text).group(1))
        print(f"submitted training job {job} from the page")
        seen = []
        deadline = time.time() + 120
        while time.time() < deadline:
            updates = int(driver.execute_script("return document.body.dataset.chartUpdates || 0"))
            if not seen or updates != seen[-1]:
                seen.append(updates)
            if "done" in row_text(driver, job):
                break
            time.sleep(0.2)
        print(f"chart updates seen while it ran: {seen}")
        loop_line = driver.execute_script("return document.getElementById('loop-status').innerText")
        print(f"loop statistics shown: {loop_line}")
        if "deadline misses" not in loop_line:
            failures.append("the page shows no live drive-loop statistics")
        if max(seen or [0]) < 3:
            failures.append(f"the charts updated {max(seen or [0])} times; expected at least 3")
        if len([value for value in seen if value > 0]) < 2:
            failures.append("the charts did not update live (all updates arrived at once)")
        row = row_text(driver, job)
        if "done" not in row:
            failures.append(f"job {job} is not in the run history as done")
        else:
            print(f"history row: {row}")
            # The table is redrawn every 2 s: find and click in one step, in the page.
            driver.execute_script(f"document.querySelector(\"#runs tbody tr[data-id='{job}'] button\").click()")
            WebDriverWait(driver, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#run-plots img")) == 2)
            print("the run's plots open from the history")
        os.makedirs(os.path.dirname(arguments.screenshot), exist_ok=True)
        driver.save_screenshot(arguments.screenshot)
        print(f"screenshot: {arguments.screenshot}")
        errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        if errors:
            failures.append(f"browser console errors: {errors}")
    finally:
        driver.quit()
        box.stop()
    return verdict("box_browser_test", failures)


if __name__ == "__main__":
    sys.exit(main())
