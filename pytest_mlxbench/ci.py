"""What triggered the run, read from the CI environment (GitHub Actions, GitLab CI, generic CI)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import BenchInputError

TRIGGERS = ("local", "pr", "schedule", "workflow_dispatch")

_GITHUB_EVENTS = {
    "pull_request": "pr",
    "pull_request_target": "pr",
    "schedule": "schedule",
    "workflow_dispatch": "workflow_dispatch",
}
_GITLAB_SOURCES = {
    "merge_request_event": "pr",
    "external_pull_request_event": "pr",
    "schedule": "schedule",
    "web": "workflow_dispatch",
    "api": "workflow_dispatch",
    "trigger": "workflow_dispatch",
}


@dataclass(frozen=True)
class CiContext:
    trigger: str
    pr_number: int | None = None
    runner: str | None = None
    notes: tuple[str, ...] = field(default=())


def detect_ci(env: Mapping[str, str], explicit_trigger: str | None) -> CiContext:
    if explicit_trigger is not None and explicit_trigger not in TRIGGERS:
        raise BenchInputError(
            f"--bench-trigger {explicit_trigger!r} is not one of {', '.join(TRIGGERS)}: pick one of those"
        )
    detected = _detect(env)
    if explicit_trigger is None:
        return detected
    pr_number = detected.pr_number if explicit_trigger == "pr" else None
    return CiContext(explicit_trigger, pr_number, detected.runner)


def _detect(env: Mapping[str, str]) -> CiContext:
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    if env.get("CI", "").lower() in ("true", "1"):
        return CiContext(
            "workflow_dispatch",
            runner=env.get("RUNNER_NAME") or "ci",
            notes=("trigger: a CI run of unknown kind, recorded as workflow_dispatch; pass --bench-trigger to say",),
        )
    return CiContext("local")


def _github(env: Mapping[str, str]) -> CiContext:
    event = env.get("GITHUB_EVENT_NAME", "")
    runner = env.get("RUNNER_NAME") or env.get("ImageOS") or env.get("RUNNER_OS")
    trigger = _GITHUB_EVENTS.get(event)
    if trigger is None:
        note = f"trigger: GitHub event {event or 'unknown'!r} has no schema value, recorded as workflow_dispatch"
        return CiContext("workflow_dispatch", runner=runner, notes=(note,))
    pr_number = _github_pr_number(env) if trigger == "pr" else None
    return CiContext(trigger, pr_number, runner)


def _github_pr_number(env: Mapping[str, str]) -> int | None:
    match = re.fullmatch(r"refs/pull/(\d+)/(merge|head)", env.get("GITHUB_REF", ""))
    if match:
        return int(match.group(1))
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            number = json.loads(Path(event_path).read_text())["pull_request"]["number"]
            return int(number)
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return None


def _gitlab(env: Mapping[str, str]) -> CiContext:
    source = env.get("CI_PIPELINE_SOURCE", "")
    runner = env.get("CI_RUNNER_DESCRIPTION") or "gitlab"
    trigger = _GITLAB_SOURCES.get(source)
    if trigger is None:
        note = f"trigger: GitLab pipeline source {source or 'unknown'!r} has no schema value, recorded as workflow_dispatch"
        return CiContext("workflow_dispatch", runner=runner, notes=(note,))
    iid = env.get("CI_MERGE_REQUEST_IID", "")
    pr_number = int(iid) if trigger == "pr" and iid.isdigit() else None
    return CiContext(trigger, pr_number, runner)
