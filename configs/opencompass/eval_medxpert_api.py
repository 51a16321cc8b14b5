"""All of MedXpertQA (Text + MM images) and the MCQ suite through an OpenAI-compatible endpoint, e.g.
``vllm serve Qwen/Qwen2.5-VL-7B-Instruct --served-model-name served-model-name``.

    OPENAI_API_KEY=EMPTY medxpert opencompass eval_medxpert_api.py

``OpenAISDK`` counts prompt tokens with ``tokenizer_path``, which must be a LOCAL folder offline (it downloads a
tokenizer otherwise). The key comes from ``OPENAI_API_KEY`` at run time and is never written into the config.
The model dict is ``models_from_profile("openai-compatible", tokenizer_path=...)`` (a test keeps them equal):
``max_workers`` is the number of requests in flight; ``query_per_second`` and ``batch_size`` are set above it so
that neither caps the run below that (see ``medxpert_ext/harness/opencompass/models.py``).
"""

from mmengine.config import read_base

with read_base():
    from medxpert_ext.configs.opencompass.datasets.medbench_gen import medbench_datasets
    from medxpert_ext.configs.opencompass.datasets.medxpert_gen import medxpert_datasets
    from medxpert_ext.configs.opencompass.summarizers.medxpert import medxpert_summary_groups

datasets = medxpert_datasets + medbench_datasets
models = [
    dict(
        abbr="openai-compatible",
        max_out_len=8192,
        type="opencompass.models.OpenAISDK",
        path="served-model-name",
        openai_api_base="http://localhost:8000/v1/",
        key="ENV",
        tokenizer_path="/path/to/local/tokenizer",
        max_seq_len=24576,
        temperature=0.0,
        query_per_second=640,
        max_workers=64,
        batch_size=256,
        retry=5,
        run_cfg=dict(num_gpus=0),
    )
]
summarizer = dict(summary_groups=medxpert_summary_groups)
