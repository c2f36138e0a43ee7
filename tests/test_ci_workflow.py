"""The GitHub Actions workflow is valid (checked against the GitHub-workflow schema that
check-jsonschema ships, offline) and does what the README says: tests, the papermill book on
`tiny` for pull requests and `default` on main with a cache between runs, and Pages publishing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def lint(path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    return subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_workflow_passes_the_github_workflow_schema():
    done = lint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_catches_a_broken_workflow(tmp_path):
    """The control: a misspelt key (`runs_on`) fails the same check."""
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1))
    done = lint(broken)
    assert done.returncode != 0 and "runs_on" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def workflow():
    spec = yaml.safe_load(WORKFLOW.read_text())
    spec["on"] = spec.pop(True)  # YAML 1.1 reads the key `on` as true
    return spec


def steps(job):
    return [(s.get("uses", ""), s.get("run", ""), s.get("with", {}), s.get("if", "")) for s in job["steps"]]


def test_triggers_and_profiles(workflow):
    assert set(workflow["on"]) == {"pull_request", "push", "workflow_dispatch"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["env"]["PROFILE"] == "${{ github.event_name == 'pull_request' && 'tiny' || 'default' }}"


def test_tests_then_book_then_publish(workflow):
    jobs = workflow["jobs"]
    assert [run for _, run, _, _ in steps(jobs["test"]) if run] == ["make test"]
    assert jobs["book"]["needs"] == "test" and jobs["publish"]["needs"] == "book"
    book = steps(jobs["book"])
    assert any(run == 'make book PROFILE="$PROFILE"' for _, run, _, _ in book)
    cache = next(w for uses, _, w, _ in book if uses.startswith("actions/cache@"))
    assert cache["path"].split() == ["data/cache", "_build/executed"]
    pages = next(w for uses, _, w, _ in book if uses.startswith("actions/upload-pages-artifact@"))
    assert pages["path"] == "_build/html"
    assert [uses for uses, *_ in steps(jobs["publish"])] == ["actions/deploy-pages@v4"]
    assert jobs["publish"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert "refs/heads/main" in jobs["publish"]["if"]
