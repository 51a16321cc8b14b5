"""Scoring, one module per benchmark family, shared by every harness adapter (lm-eval, OpenCompass) and the
offline tools: the same model output gets the same numbers wherever it is scored.

- :mod:`.mcq`: ``acc`` / ``extract_fail`` of multiple-choice answers (MedXpertQA, the MCQ suite, MCQ VQA sets);
- :mod:`.vqa`: closed (yes/no) and open short-answer VQA metrics;
- :mod:`.lfqa`: MedLFQA's ROUGE/BLEU/BERTScore and OLAPH's factuality;
- :mod:`.aggregate`: how per-sample values become one number (judge errors are never scored as wrong).
"""
