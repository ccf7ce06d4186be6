#!/usr/bin/env python3
"""Browser test of `genrenet serve`'s page: headless Chromium (Debian's chromium +
chromium-driver) driven by Selenium loads http://127.0.0.1:PORT/, uploads a real song from
../shared/seed/gtzan-sample through the page's file input, waits for the answer, and checks that
the page shows the file's genre, ten bars and one timeline segment per clip, that the audio
player got a blob: URL, and that a bad upload shows an error instead of a genre. At phone size
(390 px, touch emulated) neither the page nor a training report (report.html of a small run)
scrolls sideways, and the page does not offer to "drop" a file. The footer links the API's
OpenAPI document, which is served. Screenshots at desktop and phone widths are saved for a
person to look at.

Exit status: 0 pass, 1 fail, 77 skipped (selenium, chromium, chromedriver or ../shared absent).

Usage: tests/browser/test_serve_page.py --genrenet BUILD/bin/genrenet [--shared ../shared]
                                        [--song blues.00071.wav] [--out DIR]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip(why):
    print(f"SKIPPED: {why}")
    sys.exit(SKIP)


def find(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--genrenet", required=True)
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "..", "shared"))
    ap.add_argument("--song", default="disco.00003.wav")
    ap.add_argument("--out", default=None, help="folder for the screenshots (default: a temp folder)")
    args = ap.parse_args()
    args.genrenet = os.path.abspath(args.genrenet)

    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        skip("selenium is not installed (pip install selenium)")
    chromium = find("chromium", "chromium-browser", "google-chrome")
    driver_path = find("chromedriver")
    if not chromium or not driver_path:
        skip("chromium / chromedriver are not installed (apt-get install -y chromium chromium-driver)")
    shared = os.path.abspath(args.shared)
    song = os.path.join(shared, "seed", "gtzan-sample", args.song)
    if not os.path.isfile(song):
        skip(f"{song} is absent (../shared is needed)")
    expected = args.song.split(".")[0]

    work = tempfile.mkdtemp(prefix="genrenet_browser_")
    out = os.path.abspath(args.out) if args.out else work
    os.makedirs(out, exist_ok=True)
    model = os.path.join(work, "ref.safetensors")
    subprocess.run([args.genrenet, "import-keras", os.path.join(shared, "seed", "model.json"),
                    os.path.join(shared, "seed", "model_weights.h5"), "-o", model],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    server = subprocess.Popen([args.genrenet, "serve", "--model", model, "--port", "0", "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work)
    driver = None
    failures = []
    try:
        line = server.stdout.readline()  # "genrenet serve: listening on http://127.0.0.1:PORT/ ..."
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", line)
        if not m:
            raise RuntimeError(f"the server did not start: {line!r} {server.stderr.read()}")
        url = m.group(1)

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--hide-scrollbars", "--window-size=1100,1600", "--autoplay-policy=no-user-gesture-required"):
            options.add_argument(a)
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        driver.set_page_load_timeout(30)
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: "genres" in d.find_element(By.ID, "model").text)

        started = time.time()
        driver.find_element(By.ID, "file").send_keys(song)
        WebDriverWait(driver, 180).until(
            lambda d: d.find_element(By.ID, "genre").text or "error" in d.find_element(By.ID, "status").get_attribute("class"))
        seconds = time.time() - started
        genre = driver.find_element(By.ID, "genre").text.strip().lower()
        status = driver.find_element(By.ID, "status").text
        print(f"page shows genre '{genre}' for {args.song} after {seconds:.1f} s; status: {status!r}")
        if genre != expected:
            failures.append(f"expected genre {expected!r}, the page shows {genre!r} ({status!r})")
        bars = driver.find_elements(By.CSS_SELECTOR, "#bars g")
        clips = driver.find_elements(By.CSS_SELECTOR, "#timeline rect.clip")
        print(f"{len(bars)} bars, {len(clips)} timeline clips, confidence "
              f"{driver.find_element(By.ID, 'confidence').text!r}")
        if len(bars) != 10:
            failures.append(f"expected 10 bars, found {len(bars)}")
        if len(clips) != 19:
            failures.append(f"expected 19 clips (reference scheme, 30 s song), found {len(clips)}")
        src = driver.find_element(By.ID, "player").get_attribute("src")
        if not src.startswith("blob:"):
            failures.append(f"the audio player does not play a blob: URL ({src!r})")
        # Let the player load its metadata so the timeline spans the song, then redraw at this size.
        time.sleep(1.0)
        shot = os.path.join(out, "serve_page.png")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1100, max(900, height + 40))
        time.sleep(0.5)
        driver.save_screenshot(shot)
        print(f"screenshot: {shot}")

        # The API described where it is served: the footer's link answers an OpenAPI document.
        link = driver.find_element(By.CSS_SELECTOR, "footer a[href='/openapi.json']")
        spec = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then((r) => r.json()).then(done).catch((e) => done(String(e)));",
            link.get_attribute("href"))
        if not (isinstance(spec, dict) and spec.get("openapi", "").startswith("3.")
                and "/api/predict" in spec.get("paths", {})):
            failures.append(f"/openapi.json is not the API's OpenAPI document: {str(spec)[:200]}")
        if not driver.find_element(By.CLASS_NAME, "drop-hint").is_displayed():
            failures.append("the desktop page lost its 'drop it here' hint")

        driver.set_window_size(390, 844)  # a phone
        time.sleep(0.5)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        if width > 390:
            failures.append(f"the page scrolls sideways on a 390 px phone (scrollWidth {width})")
        driver.set_window_size(390, height + 40)
        time.sleep(0.5)
        phone = os.path.join(out, "serve_page_phone.png")
        driver.save_screenshot(phone)
        print(f"phone screenshot: {phone}")
        # A touch screen: nothing to drop, so no "drop it here".
        driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: "genres" in d.find_element(By.ID, "model").text)
        if driver.find_element(By.CLASS_NAME, "drop-hint").is_displayed():
            failures.append("a touch screen is offered 'drop it here'")
        if "drop" in driver.find_element(By.ID, "drop").text.lower():
            failures.append(f"the touch page still says: {driver.find_element(By.ID, 'drop').text!r}")

        # A training report at phone size: no sideways scroll.
        data, run = os.path.join(work, "synth"), os.path.join(work, "run")
        subprocess.run([args.genrenet, "synth", "-o", data, "--songs-per-genre", "5", "--seconds", "2", "-q"],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)
        subprocess.run([args.genrenet, "train", "--data", data, "-o", run, "-m", "tiny", "--clip-seconds", "1",
                        "--epochs", "2", "--device", "cpu", "--cache", os.path.join(work, "cache"), "-q"],
                       check=True, stdout=subprocess.DEVNULL, timeout=300)
        driver.get("file://" + os.path.join(run, "report.html"))
        time.sleep(0.5)
        driver.find_element(By.TAG_NAME, "details").click()  # the per-epoch table, opened
        time.sleep(0.3)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        if width > 390:
            failures.append(f"the report scrolls sideways on a 390 px phone (scrollWidth {width})")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(390, height + 40)
        time.sleep(0.5)
        driver.save_screenshot(os.path.join(out, "report_phone.png"))
        driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: "genres" in d.find_element(By.ID, "model").text)

        # A file that is not audio: an error on the page, no genre.
        bad = os.path.join(work, "notes.txt")
        with open(bad, "w") as f:
            f.write("not a song\n" * 100)
        driver.set_window_size(1100, 1000)
        time.sleep(0.5)
        driver.find_element(By.ID, "file").send_keys(bad)
        WebDriverWait(driver, 60).until(lambda d: "error" in d.find_element(By.ID, "status").get_attribute("class"))
        err = driver.find_element(By.ID, "status").text
        print(f"bad upload: {err!r}")
        time.sleep(0.5)  # a late redraw (resize) must not bring the previous answer back
        if driver.find_element(By.ID, "result").is_displayed():
            failures.append("a bad upload still shows a result")
        if "not an audio file" not in err:
            failures.append(f"unexpected error text for a bad upload: {err!r}")
        driver.save_screenshot(os.path.join(out, "serve_page_error.png"))
    finally:
        if driver:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = -1
        if code != 0:
            failures.append(f"the server did not stop cleanly on SIGTERM (exit {code})")
        if args.out:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"(screenshots kept in {work})")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
