"""Coding: MBPP problems (``problems``), the program the sandbox judges (``program``) and the
request (``prompt``); the runs and rows are code-accuracy's."""
