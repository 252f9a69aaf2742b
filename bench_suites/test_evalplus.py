"""EvalPlus suite: MBPP+ (shipped) or HumanEval+, each task's base and plus tests, judged EvalPlus's way.

One test per task of ``--evalplus-dataset`` (``mbpp+``, ``humaneval+`` through the ``evalplus``
package, or an EvalPlus-format file). Per task:

1. The expected outputs: the canonical solution on every base and plus input, in the sandbox, once
   per task and dataset version (cached; ``pytest_mlxbench.suites.evalplus.expected``). A
   reference that raises is a harness error.
2. The model is asked with EvalPlus's own chat instruction, ``--code-samples`` times (seeds
   ``--seed + i``); the code is taken from each reply as code-accuracy takes it.
3. Each candidate runs in one sandbox process; the judge calls it on every base input, then every
   plus input, each within EvalPlus's time limit, compares EvalPlus's way (``oracle``) and stops at
   the first failure. A sample passes *base* when every base input passed, *plus* when every input did.

Outcome: the test passes when a sample passed plus; otherwise a wrong answer (xfail) named by the
verdict of its first sample, its detail saying whether base passed and which input failed first.
Rows: ``pass@1_base`` and ``pass@1_plus`` (``pytest_mlxbench.suites.evalplus.summary``).
"""

from __future__ import annotations

import pytest_mlxbench
from pytest_mlxbench.suites.code_accuracy.extraction import extract_code
from pytest_mlxbench.suites.code_accuracy.run import (
    SampleLog,
    draw_replies,
    sample_requests,
)
from pytest_mlxbench.suites.evalplus.expected import ReferenceFailed, expected_outputs
from pytest_mlxbench.suites.evalplus.run import (
    chat_request,
    miss_detail,
    run_samples,
    sample_verdict,
)
from pytest_mlxbench.suites.evalplus.summary import bench_summarize  # noqa: F401  (the plugin calls it)
from pytest_mlxbench.suites.evalplus.tasks import (
    dataset_digest,
    dataset_label,
    load_tasks,
    task_ids,
)

pytestmark = pytest_mlxbench.suite("evalplus")


def pytest_generate_tests(metafunc):
    if "task_id" in metafunc.fixturenames:
        ids = task_ids(pytest_mlxbench.get_settings(metafunc.config).evalplus_dataset)
        metafunc.parametrize("task_id", ids, ids=ids)


def bench_request(item, endpoint, gen_kwargs):
    """The requests a task's test sends (one per sample), so ``--bench-concurrency`` can send them ahead."""
    settings = pytest_mlxbench.get_settings(item.config)
    task = load_tasks(settings.evalplus_dataset)[item.callspec.params["task_id"]]
    return sample_requests(chat_request(task, endpoint.model, gen_kwargs), settings.code_samples)


def test_evalplus_task(task_id, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, code_sandbox,
                       record_sample):
    dataset = mlxbench_settings.evalplus_dataset
    task = load_tasks(dataset)[task_id]
    log = SampleLog(record_sample, task_id, dataset_label(dataset), mlxbench_settings, code_sandbox.isolation)
    try:
        expected, broken = expected_outputs(code_sandbox, task, dataset_digest(dataset)), None
    except ReferenceFailed as error:
        expected, broken = None, str(error)
    if broken is not None:  # outside the except block: one line, no chained traceback
        log.harness_error([], None, broken)

    request = chat_request(task, mlx_endpoint.model, bench_gen_kwargs)
    replies = draw_replies(openai_client, mlx_endpoint, request, mlxbench_settings.code_samples, log)

    codes = [extract_code(reply.text, task.prompt, task.entry_point) for reply in replies]
    runs = run_samples(code_sandbox, task, expected, codes)
    verdicts = [sample_verdict(task, code, run) for code, run in zip(codes, runs)]
    log.scored(replies, codes, verdicts, inputs_left_out=expected.left_out(),
               inputs={"base": len(task.base_input), "plus": len(task.plus_input)})
    if not any(verdict["plus_passed"] for verdict in verdicts):
        pytest_mlxbench.wrong_answer(verdicts[0]["verdict"], miss_detail(verdicts))
