"""Regenerate the review screenshots in docs/ from a real run, with headless Chromium.

    TIKTOKEN_CACHE_DIR=... .venv/bin/python docs/make_screenshots.py

Three tests are recorded against the loopback fake provider (tests/fakes) and accepted into a
baseline; then one prompt grows, a timestamp enters a system prompt (breaking the prompt cache)
and one model is switched; the replayed run's report.html is photographed at desktop and phone
widths. Needs `chromium` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.provider import FakeProvider  # noqa: E402

AGENTS = """
import os

import openai

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]
SYSTEM = " ".join(["policy"] * 1200)


def ask(question, number, stamp=False, model="gpt-4o-mini"):
    system = f"Current time: 12:00:{number:02d}. " + SYSTEM if stamp else SYSTEM
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": system}, {"role": "user", "content": question}]
    )


def test_research_agent(llm_cost):
    with step("plan"):
        ask("make a plan", 0)
    with step("synthesize"):
        for number in (1, 2):
            ask(" ".join(["fact"] * int(os.environ.get("WORDS", "20"))), number)


def test_support_agent(llm_cost):
    stamp = bool(os.environ.get("STAMP"))
    with step("triage"):
        ask("triage this ticket", 0, stamp=stamp)
    with step("answer"):
        for number in (1, 2, 3):
            ask("answer the customer " + str(number), number, stamp=stamp)


def test_classifier(llm_cost):
    with step("classify"):
        ask("classify", 0, model=os.environ.get("MODEL", "gpt-4o-mini"))
"""

HIDE_TOP = "<style>#spend,#moved,.kpis,.counts,nav,header{display:none}</style></head>"


def shoot(page: Path, out: Path, width: int, height: int, profile: Path) -> None:
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
    )
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, FakeProvider() as fake:
        project = Path(scratch) / "agents"
        project.mkdir()
        (project / "test_agents.py").write_text(AGENTS)
        (project / "pytest.ini").write_text("[pytest]\nllm_cost_runs_per_day =\n    test_agents.py::* = 2000\n")
        env = {key: value for key, value in os.environ.items() if key not in ("CI", "GITHUB_STEP_SUMMARY")}
        env["FAKE_LLM_URL"] = fake.url
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"]

        def run(*args: str, **extra: str) -> None:
            subprocess.run([*pytest, *args], cwd=project, env={**env, **extra}, capture_output=True, check=False)

        run("--llm-cost-record-mode=once")
        run("--llm-cost", "--llm-cost-update")
        changed = {"WORDS": "400", "STAMP": "1", "MODEL": "gpt-4o"}
        run("--llm-cost-record-mode=all", **changed)
        run("--llm-cost", **changed)
        report = project / ".llm-cost" / "report.html"
        tests_only = Path(scratch) / "tests-only.html"
        tests_only.write_text(report.read_text().replace("</head>", HIDE_TOP, 1))
        profile = Path(scratch) / "chromium"
        docs = ROOT / "docs"
        shoot(report, docs / "review-desktop.png", 1280, 1150, profile)
        shoot(tests_only, docs / "review-tests-desktop.png", 1280, 1100, profile)
        shoot(report, docs / "review-phone.png", 390, 1500, profile)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
