"""The LLM judge: one OpenAI-compatible client, a persistent verdict cache, three judging modes.

Every harness adapter (the lm-eval filter, the offline ``medxpert judge`` command, later OpenCompass) goes
through :func:`medxpert_ext.judge.runner.judge_items`.
"""
