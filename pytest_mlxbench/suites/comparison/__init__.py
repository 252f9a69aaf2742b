"""capability-comparison: several models side by side, with paired tests on the same cases.

``options`` (--bench-compare), ``runs`` (each model's envelopes and per-case outcomes, from this
session or from earlier result directories), ``headlines`` (the numbers compared per suite),
``stats`` (McNemar exact, paired bootstrap, minimum detectable difference), ``compare`` (runs ->
the comparison's rows, disagreements and notes; pure) and ``session`` (the envelope of a run).
"""
