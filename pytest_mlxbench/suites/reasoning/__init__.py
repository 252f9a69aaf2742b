"""The reasoning suite's domain: GSM8K grade-school math, chain-of-thought chat prompts, and
lm-eval's ``gsm8k_cot`` answer filters (``strict-match`` and ``flexible-extract``)."""
