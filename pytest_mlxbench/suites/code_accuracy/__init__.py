"""Code-accuracy: HumanEval-format problems (``problems``), code extraction and pass@k
(``extraction``), one problem's requests and sandbox runs (``run``) and the rows (``summary``)."""
