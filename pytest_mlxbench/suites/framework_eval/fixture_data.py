"""Seeded fixture data for the agent tasks: JSON files only the tools read.

The facts (order status, customer id, balance) are drawn from a seed, so a
model cannot guess them: only a real tool call can bring them into an answer.
Decoy records sit beside the real ones so a call with the wrong argument
returns a wrong fact.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError

ORDERS_FILE = "orders.json"
CUSTOMERS_FILE = "customers.json"
BALANCES_FILE = "balances.json"

_TOKEN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no look-alikes such as 0/O, 1/I
_STATUS_WORDS = ("HELD", "SHIPPED", "PACKED", "RETURNED", "DELAYED")
_FIRST_NAMES = ("Ilse", "Tomas", "Marta", "Oskar", "Priya", "Dario", "Keiko", "Lena", "Ruben", "Aino")
_LAST_NAMES = ("Varga", "Lindqvist", "Okafor", "Brandt", "Moreau", "Castell", "Nakamura", "Petrov")
_RECORD_COUNT = 6


@dataclass(frozen=True)
class FixtureData:
    """Where the fixture files are and the facts hidden in them."""

    directory: Path
    seed: int
    order_id: str
    order_status: str
    customer_name: str
    customer_id: str
    customer_balance: str
    addend_a: int
    addend_b: int


def make_fixture_data(tmp_dir: Path | str, seed: int) -> FixtureData:
    """Write the seeded orders, customers and balances files into tmp_dir."""
    directory = Path(tmp_dir)
    if not directory.is_dir():
        raise BenchInputError(f"fixture directory {directory} does not exist: create it first (e.g. pytest's tmp_path)")
    rng = random.Random(seed)
    orders = _make_orders(rng)
    customers = _make_customers(rng)
    balances = {customer["customer_id"]: _random_balance(rng) for customer in customers}
    _write_json(directory / ORDERS_FILE, {"orders": orders})
    _write_json(directory / CUSTOMERS_FILE, {"customers": customers})
    _write_json(directory / BALANCES_FILE, {"currency": "EUR", "balances": balances})
    target_order = rng.choice(orders)
    target_customer = rng.choice(customers)
    return FixtureData(
        directory=directory,
        seed=seed,
        order_id=target_order["order_id"],
        order_status=target_order["status"],
        customer_name=target_customer["name"],
        customer_id=target_customer["customer_id"],
        customer_balance=balances[target_customer["customer_id"]],
        addend_a=rng.randint(1000, 9999),
        addend_b=rng.randint(1000, 9999),
    )


def _make_orders(rng: random.Random) -> list[dict[str, str]]:
    order_numbers = rng.sample(range(10000, 99999), _RECORD_COUNT)
    return [
        {"order_id": f"ORD-{number}", "status": f"{rng.choice(_STATUS_WORDS)}-{_random_token(rng, 6)}"}
        for number in order_numbers
    ]


def _make_customers(rng: random.Random) -> list[dict[str, str]]:
    names = rng.sample([f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES], _RECORD_COUNT)
    return [{"name": name, "customer_id": f"CUST-{_random_token(rng, 5)}"} for name in names]


def _random_token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(length))


def _random_balance(rng: random.Random) -> str:
    cents = rng.randint(100_000, 9_999_999)
    return f"{cents // 100}.{cents % 100:02d}"


def _write_json(path: Path, payload: object) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
