"""The gate: allowances, budgets, the baseline file, comparison, verdicts and the spend guard.

The only package that compares a cost with a limit; :mod:`.judge` decides every status.
"""
