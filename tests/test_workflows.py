"""The GitHub workflow examples: valid workflows, and the promises the docs make about
what a pull request can do to them. GitHub's own workflow schema cannot be fetched here, so
the structure is checked against the parts of it these files use; the comment workflow's
script runs against a fake ``gh``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

EXAMPLES = Path(__file__).parent.parent / "examples"
CHECK, COMMENT = EXAMPLES / "github-energy-check.yml", EXAMPLES / "github-energy-comment.yml"
MARKER = "<!-- pytest-energy -->"

WORKFLOW_KEYS = {"name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"}
EVENTS = {"pull_request", "pull_request_target", "push", "workflow_run", "workflow_dispatch", "schedule"}
SCOPES = {"actions", "attestations", "checks", "contents", "deployments", "id-token", "issues", "discussions",
          "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses"}
JOB_KEYS = {"name", "needs", "if", "runs-on", "permissions", "environment", "concurrency", "outputs", "env",
            "defaults", "steps", "timeout-minutes", "strategy", "continue-on-error", "container", "services"}
STEP_KEYS = {"id", "if", "name", "uses", "run", "with", "env", "shell", "working-directory",
             "continue-on-error", "timeout-minutes"}


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def check_structure(workflow: dict[str, Any]) -> None:
    """The workflow syntax's shape, as far as these files use it."""
    assert set(workflow) <= WORKFLOW_KEYS and {"name", "on", "jobs", "permissions"} <= set(workflow)
    on = workflow["on"]
    events = {on} if isinstance(on, str) else set(on)
    assert events and events <= EVENTS, events
    assert isinstance(workflow["permissions"], dict) and set(workflow["permissions"]) <= SCOPES
    assert set(workflow["permissions"].values()) <= {"read", "write", "none"}
    assert isinstance(workflow["jobs"], dict) and workflow["jobs"]
    for job_id, job in workflow["jobs"].items():
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", job_id)
        assert set(job) <= JOB_KEYS and isinstance(job["runs-on"], (str, list)), job_id
        assert isinstance(job["steps"], list) and job["steps"]
        for step in job["steps"]:
            assert isinstance(step, dict) and set(step) <= STEP_KEYS, step
            assert ("uses" in step) != ("run" in step), step
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[\w.-]+", step["uses"]), step["uses"]
            for key in ("with", "env"):
                values = step.get(key, {})
                assert isinstance(values, dict) and all(
                    isinstance(v, (str, int, float, bool)) for v in values.values()), step
            assert isinstance(step.get("if", ""), (str, bool))
    for text in strings(workflow):
        assert len(re.findall(r"\$\{\{[^{}]*\}\}", text)) == text.count("${{"), f"an unclosed expression: {text}"


def strings(data: Any) -> list[str]:
    """Every string in a loaded workflow, keys included."""
    if isinstance(data, dict):
        return [s for key, value in data.items() for s in [*strings(key), *strings(value)]]
    if isinstance(data, list):
        return [s for value in data for s in strings(value)]
    return [data] if isinstance(data, str) else []


@pytest.mark.parametrize("path", [CHECK, COMMENT], ids=["check", "comment"])
def test_the_workflow_examples_are_valid_workflows(path):
    workflow = load(path)
    check_structure(workflow)
    for step in steps(workflow):  # expressions reach scripts through env vars, never pasted in
        assert "${{" not in step.get("run", ""), step["run"]


def test_the_check_runs_the_pull_request_with_a_read_only_token():
    workflow = load(CHECK)
    assert workflow["permissions"] == {"contents": "read"}
    assert set(workflow["on"]) == {"pull_request"}
    checkout = next(s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    ab = next(s for s in steps(workflow) if "pytest-energy ab" in s.get("run", ""))
    assert ab["env"] == {"BASE_REF": "${{ github.base_ref }}"} and '"origin/$BASE_REF"' in ab["run"]
    after = steps(workflow)[steps(workflow).index(ab) + 1:]
    assert after and all(s["if"] == "always() && hashFiles('energy-ab.json') != ''" for s in after)
    upload = next(s for s in after if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "energy-ab" and ".md" not in upload["with"]["path"]


def test_the_comment_trusts_nothing_the_artifact_says():
    workflow, check = load(COMMENT), load(CHECK)
    assert workflow["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert workflow["on"] == {"workflow_run": {"workflows": [check["name"]], "types": ["completed"]}}
    assert not any(s.get("uses", "").startswith("actions/checkout@") for s in steps(workflow))  # no fork code
    text = COMMENT.read_text()
    assert "pr-number" not in text and "--edit-last" not in text and "energy-ab.md" not in text
    render = next(s for s in steps(workflow) if "pytest-energy report" in s.get("run", ""))
    assert "--ab artifact/energy-ab.json" in render["run"] and "--markdown comment.md" in render["run"]
    comment = steps(workflow)[-1]
    assert comment["env"]["MARKER"] == MARKER
    assert comment["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"


# -- the comment script against a fake gh ----------------------------------------------------

FAKE_GH = '''
import json, os, subprocess, sys

args, method, fields, jq, url = sys.argv[2:], "GET", {}, None, None
while args:
    arg = args.pop(0)
    if arg == "-X":
        method = args.pop(0)
    elif arg in ("-f", "-F"):
        key, value = args.pop(0).split("=", 1)
        fields[key] = open(value[1:]).read() if arg == "-F" and value.startswith("@") else value
    elif arg == "--jq":
        jq = args.pop(0)
    elif arg != "--paginate":
        url = arg
with open(os.environ["GH_LOG"], "a") as log:
    log.write(json.dumps([method, url, fields]) + "\\n")
out = json.dumps(json.load(open(os.environ["GH_DATA"])).get(f"{method} {url}", {}))
if jq:
    out = subprocess.run(["jq", "-r", jq], input=out, capture_output=True, text=True, check=True).stdout
sys.stdout.write(out)
'''
SHA = "0123456789abcdef0123456789abcdef01234567"


def run_comment_step(tmp_path: Path, comments: list[dict[str, Any]], branch: str = "feature",
                     head_sha: str = SHA) -> list[list[Any]]:
    """Run the comment step's script as GitHub would (bash -eo pipefail) with ``gh`` faked;
    returns the gh calls it made."""
    if shutil.which("jq") is None or shutil.which("bash") is None:
        pytest.skip("needs bash and jq (gh --jq)")
    step = steps(load(COMMENT))[-1]
    expressions = {
        "${{ secrets.GITHUB_TOKEN }}": "token", "${{ github.repository }}": "owner/repo",
        "${{ github.event.workflow_run.head_sha }}": head_sha,
        "${{ github.event.workflow_run.head_repository.owner.login }}": "forker",
        "${{ github.event.workflow_run.head_branch }}": branch,
    }
    env = {key: expressions.get(value, value) for key, value in step["env"].items()}
    assert "${{" not in json.dumps(env)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(f"#!{sys.executable}\n{FAKE_GH}")
    (bin_dir / "gh").chmod(0o755)
    pulls = [{"number": 8, "head": {"sha": "f" * 40}}, {"number": 7, "head": {"sha": SHA}}]
    (tmp_path / "data.json").write_text(json.dumps({
        "GET repos/owner/repo/pulls": pulls, "GET repos/owner/repo/issues/7/comments": comments}))
    (tmp_path / "comment.md").write_text("## Energy: base against head (pytest-energy ab)\n")
    (tmp_path / "script.sh").write_text(step["run"])
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "script.sh"], cwd=tmp_path, capture_output=True,
        text=True, env={**env, "PATH": f"{bin_dir}:/usr/bin:/bin", "GH_LOG": str(tmp_path / "gh.log"),
                        "GH_DATA": str(tmp_path / "data.json")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    log = tmp_path / "gh.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def comment(id_: int, login: str, body: str) -> dict[str, Any]:
    return {"id": id_, "user": {"login": login}, "body": body}


def test_the_comment_edits_only_its_own_marked_comment(tmp_path):
    others = [comment(1, "other-bot[bot]", f"{MARKER}\nanother bot's, with our marker"),
              comment(2, "someone", f"{MARKER}\na person's, with our marker"),
              comment(3, "github-actions[bot]", "another workflow's comment"),
              comment(4, "github-actions[bot]", f"{MARKER}\n## Energy (last run)")]
    calls = run_comment_step(tmp_path, others)
    assert calls[0] == ["GET", "repos/owner/repo/pulls", {"state": "open", "head": "forker:feature"}]
    assert calls[1][:2] == ["GET", "repos/owner/repo/issues/7/comments"]  # 7: the PR whose head ran
    method, url, fields = calls[2]
    assert (method, url) == ("PATCH", "repos/owner/repo/issues/comments/4") and len(calls) == 3
    assert fields["body"] == f"{MARKER}\n## Energy: base against head (pytest-energy ab)\n"


def test_without_its_own_comment_it_posts_a_new_one(tmp_path):
    calls = run_comment_step(tmp_path, [comment(1, "other-bot[bot]", f"{MARKER}\nnot ours")])
    assert [c[:2] for c in calls[2:]] == [["POST", "repos/owner/repo/issues/7/comments"]]


def test_a_hostile_branch_name_is_data_and_a_stale_head_gets_no_comment(tmp_path):
    branch = 'x"; touch pwned; echo "$(touch pwned2)'
    calls = run_comment_step(tmp_path, [], branch=branch, head_sha="e" * 40)  # no open PR has this head
    assert calls == [["GET", "repos/owner/repo/pulls", {"state": "open", "head": f"forker:{branch}"}]]
    assert not list(tmp_path.glob("pwned*"))
