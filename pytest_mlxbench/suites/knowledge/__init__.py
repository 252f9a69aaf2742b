"""The knowledge suite's domain: multiple-choice questions (ARC-Challenge shipped; MMLU and
MMLU-Pro from files or the hub), a generative "Answer: X" prompt and lm-eval-style letter extraction."""
