"""Prompt/inference settings shared by the pack's OpenCompass dataset configs (import with ``read_base``).

Text tasks send the shared prompt (``{prompt}``, built by ``medxpert_ext.prompts``) as one HUMAN turn, which every
OpenCompass model takes; image tasks send an OpenAI-style message with image parts (``RawPromptTemplate``), which
``OpenAISDK`` turns into ``image_url`` parts carrying the files' own bytes. The generation budget comes from the
model (``max_out_len``, the profile's ``max_gen_toks``); greedy decoding is set on the model too.
"""

from opencompass.openicl.icl_inferencer import GenInferencer
from opencompass.openicl.icl_prompt_template import PromptTemplate
from opencompass.openicl.icl_raw_prompt_template import RawPromptTemplate
from opencompass.openicl.icl_retriever import ZeroRetriever

text_reader_cfg = dict(input_columns=["prompt"], output_column="answer")
image_reader_cfg = dict(input_columns=["messages"], output_column="answer")

text_infer_cfg = dict(
    prompt_template=dict(type=PromptTemplate, template=dict(round=[dict(role="HUMAN", prompt="{prompt}")])),
    retriever=dict(type=ZeroRetriever),
    inferencer=dict(type=GenInferencer),
)
image_infer_cfg = dict(
    prompt_template=dict(type=RawPromptTemplate, messages=[dict(expand_column="messages")], format_variables=False),
    retriever=dict(type=ZeroRetriever),
    inferencer=dict(type=GenInferencer),
)
