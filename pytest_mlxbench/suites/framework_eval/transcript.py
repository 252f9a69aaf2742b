"""What one agent run did: plain data, safe to send across processes and to JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call that reached our tool code, with the text it returned."""

    name: str
    arguments: dict[str, Any]
    result: str


@dataclass
class Transcript:
    """The outcome of running one task with one runner (baseline loop or a framework)."""

    runner: str
    task_id: str
    final_answer: str = ""
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    error: str | None = None
    hit_step_limit: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plain_data(value: Any) -> Any:
    """A JSON-safe deep copy of framework message objects (unknown types become strings)."""
    return json.loads(json.dumps(value, default=str))
