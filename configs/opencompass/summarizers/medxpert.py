"""Summary groups for OpenCompass, weighted by size like the lm-eval groups: ``medxpert_text`` / ``medxpert_mm`` /
``medxpert`` are the MedXpertQA paper's Avg_Text / Avg_MM / overall columns (every question weighted equally),
``medbench`` the 6,545-question suite total. ``summarizer = dict(summary_groups=medxpert_summary_groups)``."""

_sizes = {
    "medxpert_text_reasoning": 1861, "medxpert_text_understanding": 589,
    "medxpert_mm_reasoning": 1446, "medxpert_mm_understanding": 554,
    "medbench_medqa": 1273, "medbench_medmcqa": 4183, "medbench_mmlu_medical": 1089,
}
_groups = {
    "medxpert_text": ["medxpert_text_reasoning", "medxpert_text_understanding"],
    "medxpert_mm": ["medxpert_mm_reasoning", "medxpert_mm_understanding"],
    "medxpert": ["medxpert_text_reasoning", "medxpert_text_understanding", "medxpert_mm_reasoning",
                 "medxpert_mm_understanding"],
    "medbench": ["medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical"],
}
medxpert_summary_groups = [
    dict(name=name, subsets=[[t, metric] for t in tasks], weights={t: _sizes[t] for t in tasks}, metric=metric)
    for name, tasks in _groups.items()
    for metric in ("acc", "extract_fail")
]
