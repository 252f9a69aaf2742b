"""Agent-framework evaluation: seeded tasks and tools, a baseline tool loop, framework
adapters, and a pure scorer.

Flow: ``make_fixture_data`` -> ``build_tasks`` -> a runner (``run_baseline`` or an adapter
from ``frameworks.ADAPTERS``) -> ``Transcript`` -> ``score``.
"""
