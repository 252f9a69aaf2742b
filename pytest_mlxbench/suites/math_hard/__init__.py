"""The math-hard suite's domain: MATH competition problems (level 5 by default), the Minerva chat
prompt, final-answer extraction, math-verify equivalence and lm-eval's ``minerva_math`` exact match."""
