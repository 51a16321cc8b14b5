"""MedXpertQA Text + the MCQ suite with a local vLLM model, tensor parallel over 2 GPUs.

    opencompass eval_medxpert_vllm.py                                   # one worker, TP=2
    opencompass eval_medxpert_vllm.py --max-num-workers 4               # data parallel: 4 workers x TP=2 (8 GPUs)
    opencompass eval_medxpert_vllm.py --slurm -p PARTITION              # one Slurm job per task
    medxpert opencompass eval_medxpert_vllm.py ...                      # the same, after the pack's preflight

The model dict is what ``medxpert_ext.harness.opencompass.models_from_profile("qwen2.5-7b-instruct")`` returns
for the shipped profile (a test keeps the two equal): edit the profile and print a new dict with
``medxpert opencompass --profile NAME --datasets ...``. MedXpertQA MM needs images, which OpenCompass' local vLLM
wrapper does not send: serve a VLM with ``vllm serve`` and use ``eval_medxpert_api.py``. ``ray`` must be installed
(OpenCompass' vLLM wrappers import it).
"""

from mmengine.config import read_base

with read_base():
    from medxpert_ext.configs.opencompass.datasets.medbench_gen import medbench_datasets
    from medxpert_ext.configs.opencompass.datasets.medxpert_gen import medxpert_datasets
    from medxpert_ext.configs.opencompass.summarizers.medxpert import medxpert_summary_groups

datasets = [d for d in medxpert_datasets if d["abbr"].startswith("medxpert_text")] + medbench_datasets
models = [
    dict(
        abbr="qwen2.5-7b-instruct",
        max_out_len=8192,
        type="opencompass.models.VLLMwithChatTemplate",
        path="Qwen/Qwen2.5-7B-Instruct",
        model_kwargs=dict(tensor_parallel_size=2, gpu_memory_utilization=0.9, dtype="auto", max_model_len=16384),
        generation_kwargs=dict(temperature=0.0),
        batch_size=1024,
        run_cfg=dict(num_gpus=2),
        max_seq_len=16384,
    )
]
summarizer = dict(summary_groups=medxpert_summary_groups)
