"""EvalPlus: MBPP+ and HumanEval+ tasks (``tasks``), EvalPlus's verdict rules run in the sandbox's judge
(``oracle``), the reference's expected outputs, cached (``expected``), one task's candidates
(``run``) and the rows (``summary``)."""
