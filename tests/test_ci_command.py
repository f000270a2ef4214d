"""CI runs what the README tells a contributor to run, and then the slow tier."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_test_command() -> str:
    lines = (ROOT / "README.md").read_text().splitlines()
    found = [line for line in lines if line.startswith("python -m pip install -e") and "pytest" in line]
    assert len(found) == 1, found
    return found[0]


def test_ci_runs_the_readme_test_command_then_the_slow_tier():
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    command = readme_test_command()
    assert "lint-imports" in command and "ruff check" in command
    assert ci[-2:] == [command, "python -m pytest -q -m slow -n 0"]
