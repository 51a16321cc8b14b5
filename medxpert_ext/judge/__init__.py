"""The LLM judge: one OpenAI-compatible client, a persistent verdict cache, four judging modes
(``exact``, ``open``, ``statements``, and ``extract`` for the rule extractor's rescue in ``rescue.py``).

Every harness adapter (the lm-eval filter, the offline ``medxpert judge`` command, later OpenCompass) goes
through :func:`medxpert_ext.judge.runner.judge_items`.
"""
