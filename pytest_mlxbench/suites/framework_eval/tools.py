"""The agent tools: real Python functions over the fixture files, with JSON schemas.

Tool arguments come from model output, which is hostile input: they are
validated against the schema, only used as dictionary keys (never as paths),
and echoed back truncated. Every call that reaches a tool is logged, so a
transcript shows what was executed rather than what a framework reports.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlxbench.suites.framework_eval.fixture_data import (
    BALANCES_FILE,
    CUSTOMERS_FILE,
    ORDERS_FILE,
)
from pytest_mlxbench.suites.framework_eval.transcript import ToolCallRecord

_ECHO_LIMIT = 80


@dataclass(frozen=True)
class ToolSpec:
    """A tool as offered to a model: name, description, JSON schema, and the function."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., dict[str, Any]]

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def get_order_status(data_dir: Path, order_id: str) -> dict[str, Any]:
    for order in _read_json(data_dir / ORDERS_FILE)["orders"]:
        if order["order_id"].casefold() == order_id.strip().casefold():
            return {"order_id": order["order_id"], "status": order["status"]}
    return {"error": f"no order with id {_echo(order_id)}"}


def find_customer(data_dir: Path, name: str) -> dict[str, Any]:
    wanted = " ".join(name.split()).casefold()
    for customer in _read_json(data_dir / CUSTOMERS_FILE)["customers"]:
        if customer["name"].casefold() == wanted:
            return {"customer_id": customer["customer_id"], "name": customer["name"]}
    return {"error": f"no customer named {_echo(name)}"}


def get_balance(data_dir: Path, customer_id: str) -> dict[str, Any]:
    ledger = _read_json(data_dir / BALANCES_FILE)
    for known_id, balance in ledger["balances"].items():
        if known_id.casefold() == customer_id.strip().casefold():
            return {"customer_id": known_id, "balance": balance, "currency": ledger["currency"]}
    return {"error": f"no customer with id {_echo(customer_id)}"}


def _string_parameters(**descriptions: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string", "description": text} for name, text in descriptions.items()},
        "required": list(descriptions),
        "additionalProperties": False,
    }


TOOL_SPECS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "get_order_status",
            "Look up the current status code of an order by its order id.",
            _string_parameters(order_id="The order id, for example ORD-12345."),
            get_order_status,
        ),
        ToolSpec(
            "find_customer",
            "Find a customer's id from the customer's full name.",
            _string_parameters(name="The customer's full name, for example Jane Doe."),
            find_customer,
        ),
        ToolSpec(
            "get_balance",
            "Get the account balance of a customer by customer id.",
            _string_parameters(customer_id="The customer id returned by find_customer."),
            get_balance,
        ),
    )
}


class ToolCallLog:
    """Thread-safe record of executed tool calls (frameworks may run tools in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[ToolCallRecord] = []

    def add(self, record: ToolCallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[ToolCallRecord]:
        with self._lock:
            return list(self._records)


class Toolset:
    """The tools of one task bound to one fixture directory, logging every call."""

    def __init__(self, data_dir: Path, tool_names: tuple[str, ...], log: ToolCallLog | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.specs = tuple(TOOL_SPECS[name] for name in tool_names)
        self.log = log or ToolCallLog()

    def openai_schemas(self) -> list[dict[str, Any]]:
        return [spec.openai_schema() for spec in self.specs]

    def call(self, name: str, arguments: Any) -> str:
        """Run a tool with already-decoded arguments; return its JSON result text."""
        result = json.dumps(self._execute(name, arguments), ensure_ascii=False)
        logged_arguments = dict(arguments) if isinstance(arguments, Mapping) else {"_invalid": _echo(arguments)}
        self.log.add(ToolCallRecord(name=name, arguments=logged_arguments, result=result))
        return result

    def call_json(self, name: str, raw_arguments: str | None) -> str:
        """Run a tool with arguments as the model sent them (a JSON object text)."""
        try:
            arguments = json.loads(raw_arguments or "{}")
        except json.JSONDecodeError:
            arguments = raw_arguments
        return self.call(name, arguments)

    def _execute(self, name: str, arguments: Any) -> dict[str, Any]:
        import jsonschema  # here, not at import: collecting the suite must stay light

        spec = next((spec for spec in self.specs if spec.name == name), None)
        if spec is None:
            return {"error": f"unknown tool {_echo(name)}; available: {', '.join(s.name for s in self.specs)}"}
        try:
            jsonschema.validate(arguments, spec.parameters)
        except jsonschema.ValidationError as invalid:
            return {"error": f"invalid arguments for {name}: {_echo(invalid.message)}"}
        return spec.function(self.data_dir, **arguments)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _echo(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:_ECHO_LIMIT])
