"""Knowledge suite: multiple-choice questions answered in chat, the letter read as lm-eval's
generative multiple-choice filter reads it.

One test per question of the shipped ARC-Challenge test split (1,172) or of
``--knowledge-dataset`` (``mmlu`` / ``mmlu-pro`` from the hub, a JSON-lines file, a directory of
MMLU's CSVs; see ``pytest_mlxbench.suites.knowledge.questions``). ``--bench-limit N`` runs the
first N in file order. The prompt asks for a last line ``Answer: X``; the letter is extracted with
lm-eval's ``multi_choice_regex`` steps plus a last standalone option letter
(``pytest_mlxbench.suites.knowledge.letters``). A miss is ``no_answer`` or ``wrong_choice``.
Rows: accuracy overall and per subject, the unanswered rate (``pytest_mlxbench.suites.knowledge.summary``).
"""

from __future__ import annotations

import pytest_mlxbench
from pytest_mlxbench.suites.answer_checked import ask, chat_request, reply_fields
from pytest_mlxbench.suites.knowledge import letters
from pytest_mlxbench.suites.knowledge.questions import load_questions
from pytest_mlxbench.suites.knowledge.summary import bench_summarize  # noqa: F401  (the plugin calls it)

pytestmark = pytest_mlxbench.suite("knowledge")


def pytest_generate_tests(metafunc):
    if "question" in metafunc.fixturenames:
        questions = load_questions(pytest_mlxbench.get_settings(metafunc.config).knowledge_dataset)
        metafunc.parametrize("question", questions, ids=[question.id for question in questions])


def test_question(question, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, record_sample):
    request = chat_request(letters.chat_messages(question), mlx_endpoint.model, bench_gen_kwargs)
    dataset = mlxbench_settings.knowledge_dataset
    sample = {"id": question.id, "subject": question.subject, "source": getattr(dataset, "name", dataset) or "shipped",
              "request": request, "reference": question.answer_letter}
    reply = ask(openai_client, mlx_endpoint, request, sample, record_sample)
    verdict = letters.judge(reply.text, question)
    record_sample({**sample, **reply_fields(reply), "extracted": verdict["letter"], "verdict": verdict})
    if not verdict["passed"]:
        pytest_mlxbench.wrong_answer(verdict["kind"], verdict["detail"])
