"""The README's screenshots: the page at `/` on a seed document and the `report` page on seeds/, in headless
Chromium at laptop size, saved as small PNGs.

    python bench/screenshots.py --model models/policy-tagger --out docs/screenshots
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from headless import chromium, console_errors, paste_and_tag
from local_server import EXE, local_server

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1280, 900)
MAX_BYTES = 300_000  # README images stay small; a 256-colour palette keeps text sharp at a third of the size


def save_small(driver, path: Path) -> None:
    from PIL import Image

    raw = path.with_suffix(".raw.png")
    driver.save_screenshot(str(raw))
    image = Image.open(raw).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)
    raw.unlink()
    size = path.stat().st_size
    print(f"{path}: {image.width}x{image.height}, {size / 1000:.0f} kB", file=sys.stderr)
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is {size} bytes; at most {MAX_BYTES}")


def page_shot(driver, model: Path, seed: Path, out: Path, work: Path) -> None:
    with local_server(model, work / "server.log") as (_, base):
        driver.get(base + "/")
        rows = paste_and_tag(driver, seed.read_text(encoding="utf-8"))
        if not rows:
            raise SystemExit("the page showed an error: " + driver.find_element("id", "error").text)
        driver.execute_script("document.getElementById('results').scrollIntoView()")  # summary and evidence
        save_small(driver, out / "page.png")
        if console_errors(driver):
            raise SystemExit(f"console errors: {console_errors(driver)}")


def report_shot(driver, model: Path, out: Path, work: Path) -> None:
    report = work / "report"
    subprocess.run([str(EXE), "report", "seeds", "--out", str(report), "--model", str(model), "--quiet"],
                   check=True, cwd=ROOT)  # documents named seeds/…, as in the README
    driver.get((report / "index.html").as_uri())
    save_small(driver, out / "report.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "policy-tagger")
    parser.add_argument("--seed", type=Path, default=sorted((ROOT / "seeds").glob("*.txt"))[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    driver = chromium(*SIZE)
    try:
        chrome = driver.execute_script("return [outerWidth - innerWidth, outerHeight - innerHeight]")
        driver.set_window_size(SIZE[0] + chrome[0], SIZE[1] + chrome[1])  # the page itself gets SIZE
        with tempfile.TemporaryDirectory() as work:
            page_shot(driver, args.model, args.seed, args.out, Path(work))
            report_shot(driver, args.model, args.out, Path(work))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
