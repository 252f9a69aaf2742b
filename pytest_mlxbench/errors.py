"""The one exception type for bad user input (files, options, model paths).

Its message is a single line that says what is wrong and how to fix it; the
plugin shows it as a usage error (no traceback) and exits non-zero.
"""


class BenchInputError(Exception):
    """Bad input from the user: one clear line, never a traceback."""
