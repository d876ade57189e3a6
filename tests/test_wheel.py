"""The package as a user installs it: a wheel in a clean virtual environment outside the repository, with
the tagging dependencies only (no torch, no transformers)."""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(work / "dist"), str(ROOT)], check=True, timeout=600)
    wheel = next((work / "dist").glob("policy_tagger-*.whl"))
    venv.create(work / "venv", with_pip=True)
    pip = work / "venv" / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", str(wheel)], check=True, timeout=900)
    return work / "venv" / "bin"


def run(bin_dir: Path, *args: str, cwd: Path, env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POLICY_TAGGER_", "PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run([str(bin_dir / "policy-tagger"), *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=300, env={**clean, "HOME": str(cwd), **(env or {})})


def test_the_wheel_tags_without_the_repository_or_torch(installed, tiny_model, tmp_path):
    probe = subprocess.run([str(installed / "python"), "-c", "import importlib.util as u; "
                            "print(u.find_spec('torch') is None, u.find_spec('transformers') is None)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert probe.stdout.split() == ["True", "True"]
    done = run(installed, "label", "-", "--quiet", cwd=tmp_path, env={"POLICY_TAGGER_MODEL": str(tiny_model)},
               stdin=json.dumps({"id": "p1", "text": "全县建成扶贫车间32个，带动就业1200人。"}, ensure_ascii=False) + "\n")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["id"] == "p1" and len(row["scores"]) == 6 and row["model"].startswith("policy-tagger-")


def test_without_a_model_it_names_every_place_it_looked(installed, tmp_path):
    done = run(installed, "info", cwd=tmp_path)
    assert done.returncode == 2 and "$POLICY_TAGGER_MODEL: not set" in done.stderr
    assert "not a repository checkout" in done.stderr and "per-user data folder" in done.stderr and str(tmp_path) in done.stderr  # under the user's HOME
    assert "site-packages" not in done.stderr


def test_training_asks_for_the_training_extra(installed, tmp_path):
    done = run(installed, "train", "--train-file", "x.jsonl", cwd=tmp_path)
    assert done.returncode == 2 and "pip install 'policy-tagger[train]'" in done.stderr


def test_the_wheel_ships_the_web_page_and_can_take_uploads(installed, tmp_path):
    probe = subprocess.run([str(installed / "python"), "-c", "import importlib.resources as r, multipart; "
                            "d = r.files('policy_tagger.service.api') / 'static'; "
                            "print(*sorted(p.name for p in d.iterdir()))"], capture_output=True, text=True, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["app.js", "index.html", "style.css"]
