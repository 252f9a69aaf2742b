"""Cross-check of the answer-checked suites against lm-eval's own code, on thousands of varied replies.

Runs where lm-eval is installed (never a project dependency), offline, from the repository root:

    python3 -m venv .venv-lmeval && .venv-lmeval/bin/pip install 'lm-eval[math]==0.4.13' pytest
    .venv-lmeval/bin/python benchmarks/lm_eval_crosscheck.py [--replies 3000] [--seed 0]

lm-eval's tasks are built from their own YAML files with the data read from local JSON lines
(``/work/shared/datasets`` or ``--datasets DIR``), so its prompt construction, filters, metric
and ``process_results`` run unchanged. Checked, each must agree on every input:

* reasoning (``gsm8k_cot``): the chat messages of all 1,319 problems (``--apply_chat_template
  --fewshot_as_multiturn``) and the reference; per reply, both filters' extractions and exact-match
  verdicts;
* math-hard (``minerva_math500``): the chat messages and the normalised reference of all 500
  problems; per reply, the ``exact_match`` of ``process_results`` (our extraction, normalisation
  and sympy comparison in the checker process); the agreement of our math-verify verdict with
  lm-eval's ``math_verify`` (which reads the whole reply and solution, a different extraction by
  design) is printed, not required;
* knowledge: per reply, the letter from lm-eval's ``multi_choice_regex`` filter configured as the
  suite uses it, against ours with lm-eval's three steps; replies only our fourth step (the last
  standalone letter) answers are counted.

Exits 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from lm_eval_replies import gsm8k_reply, letter_reply, math_reply  # noqa: E402

from pytest_mlxbench.suites.knowledge import letters  # noqa: E402
from pytest_mlxbench.suites.knowledge.questions import load_questions  # noqa: E402
from pytest_mlxbench.suites.math_hard import answers, problems  # noqa: E402
from pytest_mlxbench.suites.math_hard.equivalence import AnswerChecker, CheckerTimeout  # noqa: E402
from pytest_mlxbench.suites.reasoning import filters, gsm8k  # noqa: E402

SHOWN_DISAGREEMENTS = 5


class Tally:
    def __init__(self, name: str):
        self.name, self.checked, self.disagreements = name, 0, []

    def compare(self, ours, theirs, context) -> None:
        self.checked += 1
        if ours != theirs:
            self.disagreements.append((ours, theirs, context))

    def report(self) -> bool:
        agreed = self.checked - len(self.disagreements)
        print(f"  {self.name}: {agreed}/{self.checked} agree")
        for ours, theirs, context in self.disagreements[:SHOWN_DISAGREEMENTS]:
            print(f"    ours={ours!r} lm-eval={theirs!r} on {str(context)[:300]!r}")
        return not self.disagreements


def lm_eval_task(yaml_path: str, data_file: Path):
    """An lm-eval task from its own YAML, its test split read from a local JSON-lines file."""
    import lm_eval.tasks
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(Path(lm_eval.tasks.__file__).parent / yaml_path)
    config.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": {"test": str(data_file)}})
    return ConfigurableTask(config=config), config


def chat_messages(task, doc, shots: int) -> list[dict]:
    return json.loads(task.fewshot_context(doc, shots, apply_chat_template=True, fewshot_as_multiturn=True,
                                           chat_template=lambda messages, add_generation_prompt=True: json.dumps(messages)))


def filter_chain(components: list[dict]):
    from lm_eval.api.registry import get_filter

    return [get_filter(part["function"])(**{k: v for k, v in part.items() if k != "function"}) for part in components]


def run_filters(chain, reply: str, doc: dict) -> str:
    responses = [[reply]]
    for step in chain:
        responses = step.apply(responses, [doc])
    return list(responses)[0]


def check_gsm8k(datasets: Path, replies: int, rng: random.Random) -> list[Tally]:
    from lm_eval.api.metrics import exact_match_hf_evaluate

    task, config = lm_eval_task("gsm8k/gsm8k-cot.yaml", datasets / "gsm8k" / "test.jsonl")
    docs, ours = list(task.test_docs()), gsm8k.load_problems(datasets / "gsm8k" / "test.jsonl")
    prompts, targets = Tally("gsm8k_cot chat messages"), Tally("gsm8k_cot reference")
    for doc, problem in zip(docs, ours, strict=True):
        prompts.compare(gsm8k.chat_messages(problem), chat_messages(task, doc, config["num_fewshot"]), problem.id)
        targets.compare(problem.target, task.doc_to_target(doc), problem.id)
    metric = {k: v for k, v in config["metric_list"][0].items() if k not in ("metric", "aggregation", "higher_is_better")}
    ours_by_filter = {"strict-match": filters.strict_match, "flexible-extract": filters.flexible_extract}
    tallies = {}
    for spec in config["filter_list"]:
        chain, extract = filter_chain(spec["filter"]), ours_by_filter[spec["name"]]
        extracted, verdicts = Tally(f"{spec['name']} extraction"), Tally(f"{spec['name']} exact match")
        tallies[spec["name"]] = (chain, extract, extracted, verdicts)
    for _ in range(replies):
        problem, other = rng.choice(ours), rng.choice(ours)
        reply = gsm8k_reply(rng, problem.target, other.target)
        for chain, extract, extracted, verdicts in tallies.values():
            theirs = run_filters(chain, reply, {})
            mine = extract(reply)
            extracted.compare(filters.INVALID if mine is None else mine, theirs, reply)
            score = exact_match_hf_evaluate(predictions=[theirs], references=[problem.target], **metric)["exact_match"]
            verdicts.compare(filters.exact_match(mine, problem.target), bool(score), (reply, problem.target))
    return [prompts, targets] + [tally for group in tallies.values() for tally in group[2:]]


def check_math(datasets: Path, replies: int, rng: random.Random) -> list[Tally]:
    task, config = lm_eval_task("minerva_math/minerva_math500.yaml", datasets / "math500" / "test.jsonl")
    docs = list(task.test_docs())
    ours = problems.load_problems(datasets / "math500" / "test.jsonl", levels=frozenset(problems.LEVELS))
    prompts, references = Tally("minerva_math500 chat messages"), Tally("minerva_math500 normalised reference")
    for doc, problem in zip(docs, ours, strict=True):
        prompts.compare(problems.chat_messages(problem), chat_messages(task, doc, config["num_fewshot"]), problem.id)
        references.compare(answers.minerva_reference(problem.solution, problem.answer), doc["answer"], problem.id)
    exact, agreement = Tally("minerva exact_match (process_results)"), Tally("math-verify verdict vs lm-eval math_verify")
    with AnswerChecker() as checker:
        for _ in range(replies):
            index = rng.randrange(len(docs))
            doc, problem, other = docs[index], ours[index], rng.choice(ours)
            reply = math_reply(rng, problem.answer, other.answer)
            theirs = config["process_results"](doc, [reply])
            normalised = answers.minerva_normalise(answers.minerva_unnormalised(reply))
            exact.compare(checker.minerva_equal(normalised, doc["answer"]), bool(theirs["exact_match"]),
                          (reply, doc["answer"]))
            agreement.compare(math_verify_verdict(checker, reply, problem.answer), bool(theirs["math_verify"]),
                              (reply, problem.answer))
    return [prompts, references, exact, agreement]


def math_verify_verdict(checker: AnswerChecker, reply: str, reference: str) -> bool:
    extracted = answers.extract_answer(reply)
    if extracted is None:
        return False
    try:
        return checker.math_verify(extracted, reference)["equivalent"]
    except CheckerTimeout:
        return False


def check_letters(replies: int, rng: random.Random) -> tuple[list[Tally], int]:
    from lm_eval.filters.extraction import MultiChoiceRegexFilter

    questions, tally, rescued = load_questions(), Tally("multi_choice_regex letter"), 0
    cases = [(question, letter_reply(rng, list(question.options), question.answer))
             for question in (rng.choice(questions) for _ in range(replies))]
    for option_letters in sorted({question.letters for question, _ in cases}):
        group = [(question, reply) for question, reply in cases if question.letters == option_letters]
        lm_filter = MultiChoiceRegexFilter(regex_pattern=letters.answer_line_pattern(option_letters),
                                           group_select=-1, ignore_case=True, ignore_punctuation=True)
        outputs = lm_filter.apply([[reply] for _, reply in group], [{"choices": list(q.options)} for q, _ in group])
        for (question, reply), output in zip(group, outputs, strict=True):
            mine, _ = letters.extract_letter(reply, question, letters.METHODS[:3])
            tally.compare(mine or "[invalid]", output[0].strip("()"), reply)
            if mine is None and letters.extract_letter(reply, question)[0] is not None:
                rescued += 1
    return [tally], rescued


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=3000, help="generated replies per suite (math: half)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    import lm_eval

    print(f"lm-eval {lm_eval.__version__}, {args.replies} replies per suite (math {args.replies // 2}), seed {args.seed}")
    ok = True
    print("reasoning (gsm8k_cot):")
    ok &= all([tally.report() for tally in check_gsm8k(args.datasets, args.replies, random.Random(args.seed))])
    print("math-hard (minerva_math500):")
    *required, informative = check_math(args.datasets, args.replies // 2, random.Random(args.seed))
    ok &= all([tally.report() for tally in required])
    informative.report()
    print("knowledge (multi_choice_regex):")
    tallies, rescued = check_letters(args.replies, random.Random(args.seed))
    ok &= all([tally.report() for tally in tallies])
    print(f"  replies only the standalone-letter step answers: {rescued}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
