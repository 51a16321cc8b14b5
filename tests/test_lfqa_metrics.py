"""Tests for medxpert_ext.metrics.lfqa: OLAPH's MedLFQA metrics (ROUGE, BLEU, BERTScore, hallucination, comprehensiveness).

Hand-computed cases show their counts in comments. ROUGE is also checked against rouge-score itself and against
per-sample scores that OLAPH published. The NLI/BERTScore models cannot be downloaded here, so those tests use
tiny random models built offline, plus monkeypatched embeddings where the decision rule is under test.
"""

from __future__ import annotations

import json

import math
import random
from collections import Counter
from pathlib import Path

import pytest

from tests.tiny_encoders import build_tiny_bert, build_tiny_roberta  # noqa: F401

from medxpert_ext.metrics import lfqa as M
from medxpert_ext.metrics import lfqa_models as LM
from medxpert_ext.metrics.lfqa import (
    MetricUnavailable,
    NLIScorer,
    bertscore,
    bleu_score,
    factuality_from_labels,
    olaph_rouge_record,
    rouge_scores,
)

MEDLFQA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "medlfqa"

# Two records from OLAPH's published sampled predictions and their scores, for Self-BioRAG 7B on LiveQA:
# dmis-lab/OLAPH, alignment-handbook/predictions/pdata_selfbiorag-7b_live_qa_sampling.jsonl (commit 183975b4),
# lines 1-2, fields Free_form_answer, sample_predictions, prediction_scores. Each score tuple is
# (rouge1_p, rouge1_r, rouge1_f1, rouge2_p, rouge2_r, rouge2_f1, rougel_p, rougel_r, rougel_f1, hallucination,
# comprehensive). Record 2's sixth prediction is left out because its score was cut off in our copy.
OLAPH_LIVEQA_RECORDS = [
    {
        "answer": "Noonan's syndrome is an eponymic designation that has been used during the last 8 years to describe a variable constellation of somatic and visceral congenital anomalies, which includes groups of patients previously referred to as male Turner's, female pseudo-Turner's and Bonnevie-Ullrich syndromes. It is now recognized that both sexes may show the stigmas of this condition and, unlike Turner's syndrome, there is no karyotype abnormality although there is often a familial pattern. The most commonly observed anomalies include webbing of the neck, hypertelorism, a shield-shaped chest and short stature. Congenital heart disease, principally pulmonary stenosis, and sexual infantilism often with cryptorchidism in the male subject are additional associated anomalies in this syndrome. Renal anomalies have been described rarely and usually consist of rotational errors, duplications and hydronephrosis. We report the first case of an infant who displayed many of the stigmas of Noonan's syndrome and also showed early evidence of frank renal failure secondary to renal dysplasia with cystic disease. ",
        "n_must_have": 4,
        "n_nice_to_have": 3,
        "samples": [
            ('Noonan syndrome is an autosomal dominant disorder that is characterized by the presence of hepatic and renal cysts, as well as other manifestations including developmental defects and vascular abnormalities. The exact etiology of Noonan syndrome is unknown, but it is thought to result from mutations in one of several different genes, including TSC1 and TSC2.The renal manifestations of Noonan syndrome are variable and can include both renal cysts and other abnormalities.In addition to the renal cysts, individuals with Noonan syndrome can have other renal abnormalities, such as renal stones, urinary tract obstruction, and renal failure.Overall, the relationship between Noonan syndrome and polycystic renal disease is complex, and both renal cysts and other renal abnormalities can be seen in affected individuals.Further research is needed to better understand the etiology and pathogenesis of this association.', (0.2976, 0.365, 0.3279, 0.0419, 0.0515, 0.0462, 0.1786, 0.219, 0.1967, 14.285714285714285, 100.0)),
            ('As many as 40% of individuals with Noonan syndrome will develop polycystic renal disease.\nNoonan syndrome is a genetic disorder that is characterized by renal (kidney) and other cysts, and can also cause eye abnormalities, heart defects, and skeletal deformities.Individuals with Noonan syndrome may have problems handling calcium, which can result in the early formation of kidney cysts (polycystic renal disease).Although the underlying cause is not yet completely understood, it is known that Noonan syndrome is caused by alterations or mutations in a gene called PTEN (protein kinase P11/2), which normally helps regulate cell growth and division.PTEN gene mutations result in defects in the regulation of cell growth, causing cells to divide uncontrollably and resulting in the development of multiple cysts in various organs, including the kidneys.Treatment for Noonan syndrome focuses on managing the specific symptoms and conditions associated with the disorder.However, as of now, there are no specific treatments available for polycystic renal disease.', (0.3393, 0.354, 0.3465, 0.018, 0.0187, 0.0183, 0.1607, 0.1677, 0.1641, 28.57142857142857, 75.0)),
            ('Noonan syndrome is an autosomal dominant disorder characterized by progressive renal disease, hepatic fibrosis, and vascular abnormalities., The degree of renal involvement varies, and some patients have severe renal disease from the outset.Worsening renal function is noted in some patients, and they may eventually require dialysis.Other manifestations include hepatic fibrosis and vascular abnormalities.AR (autosomal recessive) Some patients with NS who have a similar clinical picture to NS are related to a person with NS by AR mode of inheritance.ARNS Get Noonan syndrome from one of their parents (usually the father) and have a different renal disease that comes on at a younger age and may be milder.They often have characteristic hepatic fibrosis and vascular abnormalities as well.Thus, ARNS can resemble sporadic cases of NS that are not part of a syndrome and may present at a younger age.', (0.2857, 0.3333, 0.3077, 0.018, 0.021, 0.0194, 0.1429, 0.1667, 0.1538, 0.0, 100.0)),
            ('Noonan syndrome is an autosomal dominant disorder that is characterized by progressive renal failure, hepatic fibrosis, and vascular abnormalities. The following features are indicative of Noonan syndrome: visually impaired axillary hygiene, hepatic fibrosis, constitutional growth deficiency, hydrocephalus, syndactyly, renal and/or ophthalmologic abnormalities.Noonan syndrome also known as moderate face hypoplasia, is a rare genetic condition, its causative gene is PTPN11, it causes failure of the right side of the brain to develop, leading to weakness and co-ordination problems in the right side of the body, which is the result of an abnormality in the genes normally responsible for the development of the brain.People with Noonan syndrome can develop problems with the way their face grows and develops, including the cheeks, jaw and head.People with Noonan syndrome may also have problems with their kidneys and liver.The condition is usually inherited from one of the parents, although in some cases it occurs randomly.It is a rare condition, and only about 50 cases have been reported in the medical literature.It is caused by mutations in the PTPN11 gene on chromosome 11, which is involved in the development of the brain and the way it controls its movement.The Mutations in the PTPN11 gene may lead to the excessive activation of the RAS/MAPK signal transduction pathway, resulting in a disproportionate growth of one side of the brain (hemiagenesis).These genes are normally involved in the proper formation of the brain.These genes normally help regulate the formation of the nervous system and promote proper development of the brain.', (0.369, 0.2366, 0.2884, 0.0659, 0.0421, 0.0514, 0.2024, 0.1298, 0.1581, 28.57142857142857, 75.0)),
            ('Noonan syndrome, an autosomal dominant disorder, is characterized by renal and vascular cysts, and has been linked to autosomal recessive medullary cystic kidney disease through research conducted on tubular umbilical cysts found in the kidneys of affected individuals.s. The presence of skin Ulcers, Scoliosis, and Intellectual disabilities are the main features that leads the diagnosis of Noonan syndrome Emery-Dreifuss musculoskeletal disorder (EDMS) is an autosomal dominant inherited disorder characterized by growth deficiency, progressive muscular weakness, loose joints, chiefly affecting the extremities It is distinguished from the related inherited Epiphyseal Dysplasia by the absence of obvious renal and vision defects.PCKD is a major cause of chronic kidney disease in children worldwide.', (0.25, 0.3717, 0.2989, 0.0299, 0.0446, 0.0358, 0.125, 0.1858, 0.1495, 14.285714285714285, 100.0)),
            ('Noonan syndrome is an autosomal dominant disorder that is characterized by renal and hepatic cysts, endocrine abnormalities, and vascular malformations. p. 666-667. \nIt is characterized by hepatic and renal cysts, vascular anomalies, and endocrine abnormalities.Polycystic renal disease is also a type of kidney disease that is characterized by the growth of multiple cysts in the kidneys.As a result, the kidneys are unable to filter waste and fluid from the blood effectively.The exact cause of both Noonan syndrome and polycystic renal disease are unknown.However, they are often associated with genetic mutations that affect the normal development of cells in the body.', (0.2798, 0.4476, 0.3443, 0.0299, 0.0481, 0.0369, 0.1607, 0.2571, 0.1978, 28.57142857142857, 75.0)),
        ],
    },
    {
        "answer": 'Zolmitriptan tablets are available as 2.5 mg (yellow and functionally-scored) and 5 mg (pink, not scored) film coated tablets for oral administration. The film coated tablets contain anhydrous lactose NF, microcrystalline cellulose NF, sodium starch glycolate NF, magnesium stearate NF, hydroxypropyl methylcellulose USP, titanium dioxide USP, polyethylene glycol 400 NF, yellow iron oxide NF (2.5 mg tablet), red iron oxide NF (5 mg tablet), and polyethylene glycol 8000 NF. Zolmitriptan orally disintegrating tablets are available as 2.5 mg and 5 mg white uncoated tablets. The orally disintegrating tablets contain mannitol USP, microcrystalline cellulose NF, crospovidone NF, aspartame NF [see WARNINGS AND PRECAUTIONS (5.9)], sodium bicarbonate USP, citric acid anhydrous USP, colloidal silicon dioxide NF, magnesium stearate NF and orange flavor SN 027512.',
        "n_must_have": 4,
        "n_nice_to_have": 6,
        "samples": [
            ('This medication is used to treat migraine headaches.Disclaimer: All and any kind of medical information provided in this page is not 100% accurate.It is always recommended to consult with a licensed healthcare professional for personalized medical advice.The information is provided only as a reference point from where you can further expand your knowledge about the topic.', (0.0472, 0.1017, 0.0645, 0.0, 0.0, 0.0, 0.0472, 0.1017, 0.0645, 60.0, 25.0)),
            ('Treatments for migraine are classified into two broad categories: "triptans" (for example, sumatriptan, eletriptan, and almotriptan) and "other drugs" (for example, acetaminophen and naproxen).Zolpidem is a non-triptan opposite in structure to sumatriptan, containing a piperidine ring and an oxazolidinediyl resembling a triptan.Almotriptan, on the other hand, contains a butynyl irreversible 3-repeater, a sulfonamide, and a piperidine ring, all fused together in a sugar-like shape that balloons off the holder, unlike the more linear sumatriptan.For example, eletriptan was designed to be more selective for the 5HT ID receptor, but almotriptan is more selective for the 5HT ID/IB receptor, while zolpidem is an opposite-discriminating drug that isYes, Zolmitriptan tablets contain gluten.', (0.0945, 0.1026, 0.0984, 0.0159, 0.0172, 0.0165, 0.0709, 0.0769, 0.0738, 40.0, 100.0)),
            ('So, these tablets are avoided in people with gluten intolerance.', (0.0157, 0.2, 0.0292, 0.0079, 0.1111, 0.0148, 0.0157, 0.2, 0.0292, 10.0, 100.0)),
            ('Isosorbide-5-mononitrate is the active ingredient present in Zolmitriptan.5-Hydroxytryptophan, 5-HT, Triptans, and other ergot alkaloids are the groups of medications used for the treatment of migraine and other cluster headaches.', (0.0787, 0.2941, 0.1242, 0.0, 0.0, 0.0, 0.063, 0.2353, 0.0994, 60.0, 25.0)),
            ('And are there any auxiliary labels that should be read along with the medication?', (0.0236, 0.2143, 0.0426, 0.0, 0.0, 0.0, 0.0236, 0.2143, 0.0426, 60.0, 25.0)),
        ],
    },
]


# ------------------------------------------------------------------------------------------------
# ROUGE
# ------------------------------------------------------------------------------------------------


def test_rouge_hand_computed_equal_lengths():
    # pred tokens: the cat sat on the mat (6); ref tokens: the cat lay on the mat (6)
    # ROUGE-1 overlap: the(min 2,2)=2 + cat + on + mat = 5 -> P = R = 5/6 -> F1 = 5/6
    # ROUGE-2: pred bigrams {the cat, cat sat, sat on, on the, the mat}, ref {the cat, cat lay, lay on, on the,
    #          the mat}; overlap 3 of 5 each side -> F1 = 3/5
    # ROUGE-L: LCS "the cat on the mat" = 5 -> P = R = 5/6 -> F1 = 5/6
    s = rouge_scores("The cat sat on the mat.", "the cat lay on the mat")
    assert s["rouge1"] == pytest.approx(5 / 6)
    assert s["rouge2"] == pytest.approx(3 / 5)
    assert s["rougeL"] == pytest.approx(5 / 6)


def test_rouge_hand_computed_unequal_lengths():
    # pred: a b c d (4 tokens); ref: a c e (3 tokens)
    # ROUGE-1 overlap {a, c} = 2: P = 2/4, R = 2/3 -> F1 = 2*(1/2)(2/3)/(1/2+2/3) = 4/7
    # ROUGE-2: pred {ab, bc, cd}, ref {ac, ce}: no overlap -> 0
    # ROUGE-L: LCS "a c" = 2 -> same P, R -> 4/7
    s = rouge_scores("a b c d", "a c e")
    assert s == pytest.approx({"rouge1": 4 / 7, "rouge2": 0.0, "rougeL": 4 / 7})


def test_rouge_lcs_is_a_subsequence_not_a_substring():
    # pred: x a y b z c (6); ref: a b c (3). LCS = a b c = 3 -> P = 3/6, R = 3/3 -> F1 = 2/3
    # ROUGE-1 overlap 3 -> also 2/3; ROUGE-2 has no common bigram -> 0
    s = rouge_scores("x a y b z c", "a b c")
    assert s == pytest.approx({"rouge1": 2 / 3, "rouge2": 0.0, "rougeL": 2 / 3})


def test_rouge_identical_is_one():
    ref = "Escitalopram is an SSRI antidepressant.\nSide effects include nausea and insomnia."
    assert rouge_scores(ref, ref) == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}


def test_rouge_empty_reply_is_zero():
    assert rouge_scores("", "some reference answer") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert rouge_scores("   \n ", "some reference answer") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert rouge_scores(None, "x y") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}  # type: ignore[arg-type]
    assert rouge_scores("some answer", "") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


def test_rouge_very_long_reply_exact():
    # The reply is the reference repeated k = 200 times; the reference has n = 12 distinct tokens.
    # ROUGE-1 overlap = n (clipped by reference counts): P = n/(k n) = 1/k, R = 1 -> F1 = 2/(k+1)
    # ROUGE-L: LCS = n -> the same 2/(k+1)
    # ROUGE-2: reference bigrams n-1; reply bigrams k n - 1, among them k(n-1) copies of the reference bigrams plus
    #          (k-1) junctions "l a" that are not in the reference; overlap n-1 ->
    #          P = (n-1)/(k n - 1), R = 1
    ref = "a b c d e f g h i j k l"
    n, k = 12, 200
    reply = " ".join([ref] * k)  # 2,400 tokens
    s = rouge_scores(reply, ref)
    assert s["rouge1"] == pytest.approx(2 / (k + 1))
    assert s["rougeL"] == pytest.approx(2 / (k + 1))
    p2 = (n - 1) / (k * n - 1)
    assert s["rouge2"] == pytest.approx(2 * p2 / (p2 + 1))


def test_rouge_non_english_reply():
    # rouge-score's tokenizer keeps only [a-z0-9]: CJK text gives no tokens at all -> 0 everywhere, even for
    # an identical pair (this is OLAPH's behaviour too).
    zh = "这是一个关于高血压的回答"
    assert rouge_scores(zh, zh) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert rouge_scores(zh, "an answer about hypertension") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    # accented letters become separators: "café" -> "caf"; tokens pred: le caf est chaud, ref: le caf est froid
    # ROUGE-1 overlap 3/4 both ways -> 0.75; ROUGE-2 overlap {le caf, caf est} = 2/3; LCS 3 -> 0.75
    s = rouge_scores("le café est chaud", "le café est froid")
    assert s == pytest.approx({"rouge1": 0.75, "rouge2": 2 / 3, "rougeL": 0.75})


def test_rouge_uses_no_stemmer():
    # with a stemmer "runs"/"running" would both become "run"; OLAPH sets use_stemmer=False -> no overlap
    assert rouge_scores("runs", "running")["rouge1"] == 0.0


@pytest.mark.parametrize("record", OLAPH_LIVEQA_RECORDS, ids=["noonan", "zolmitriptan"])
def test_rouge_reproduces_olaph_published_scores(record):
    for prediction, published in record["samples"]:
        got = olaph_rouge_record(prediction, record["answer"])
        assert tuple(got.values()) == published[:9]
        assert list(got) == [
            "rouge1_p", "rouge1_r", "rouge1_f1", "rouge2_p", "rouge2_r", "rouge2_f1",
            "rougel_p", "rougel_r", "rougel_f1",
        ]  # fmt: skip
        f1 = rouge_scores(prediction, record["answer"])
        assert (round(f1["rouge1"], 4), round(f1["rouge2"], 4), round(f1["rougeL"], 4)) == published[2:9:3]


def test_olaph_rouge_precision_recall_orientation():
    # OLAPH calls scorer.score(pred, answer): its "_p" is overlap/len(reference), "_r" is overlap/len(reply)
    # reply "a b" (2 tokens), reference "a c d e" (4 tokens), overlap 1 -> _p = 1/4, _r = 1/2
    rec = olaph_rouge_record("a b", "a c d e")
    assert (rec["rouge1_p"], rec["rouge1_r"]) == (0.25, 0.5)


# ------------------------------------------------------------------------------------------------
# BLEU (lm-eval `olaph` task's per-document BLEU; OLAPH itself has none)
# ------------------------------------------------------------------------------------------------


def test_bleu_hand_computed():
    # 13a tokens: pred "the cat sat on the mat" (6), ref "the cat sat on a mat" (6), BP = 1
    # 1-grams: the (clipped to 1) cat sat on mat = 5/6; 2-grams: the cat, cat sat, sat on = 3/5
    # 3-grams: the cat sat, cat sat on = 2/4; 4-grams: the cat sat on = 1/3
    # BLEU = (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = (1/12) ** 0.25
    assert bleu_score("the cat sat on the mat", "the cat sat on a mat") == pytest.approx((1 / 12) ** 0.25)


def test_bleu_brevity_penalty():
    # pred "the cat sat on" (4) is a prefix of the 6-token reference: all precisions are 1,
    # BP = exp(1 - 6/4) = exp(-0.5)
    assert bleu_score("the cat sat on", "the cat sat on the mat") == pytest.approx(math.exp(-0.5))


def test_bleu_identical_empty_short():
    ref = "Lexapro is not approved for use in pediatric patients less than 12 years of age."
    assert bleu_score(ref, ref) == pytest.approx(1.0)
    assert bleu_score("", ref) == 0.0
    assert bleu_score("   ", ref) == 0.0
    assert bleu_score(ref, "") == 0.0
    # fewer than 4 tokens: no 4-gram -> precision 0 -> BLEU 0 (no smoothing), even when identical
    assert bleu_score("the cat", "the cat") == 0.0


def test_bleu_13a_tokenization_and_case():
    # 13a splits the final period: "mat." -> "mat ." so both sides have 7 identical tokens -> 1.0
    assert bleu_score("the cat sat on the mat.", "the cat sat on the mat .") == pytest.approx(1.0)
    # case-sensitive: "The" != "the"; 1-grams 5/6, 2-grams 4/5, 3-grams 3/4, 4-grams 2/3
    assert bleu_score("The cat sat on the mat", "the cat sat on the mat") == pytest.approx(
        (5 / 6 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25
    )


def test_bleu_non_english_and_long():
    fr = "Le paracétamol est contre-indiqué en cas d'insuffisance hépatique sévère."
    assert bleu_score(fr, fr) == pytest.approx(1.0)
    assert bleu_score("这是一个关于高血压的回答", "an answer about hypertension") == 0.0
    ref = "the drug lowers blood pressure in most adults"
    # reply = reference repeated 100 times: long reply, BP = 1, clipped precisions tiny but non-zero
    value = bleu_score(" ".join([ref] * 100), ref)
    assert 0.0 < value < 0.05


def _nmt_bleu(pred_tokens, ref_tokens, max_order=4):
    """Independent re-implementation of the TF-NMT compute_bleu used by HF evaluate's "bleu" (smooth=False)."""

    def grams(toks, n):
        return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))

    precisions = []
    for n in range(1, max_order + 1):
        overlap = grams(pred_tokens, n) & grams(ref_tokens, n)
        possible = max(len(pred_tokens) - n + 1, 0)
        precisions.append(sum(overlap.values()) / possible if possible > 0 else 0.0)
    geo = math.exp(sum(math.log(p) for p in precisions) / max_order) if min(precisions) > 0 else 0.0
    ratio = len(pred_tokens) / len(ref_tokens)
    bp = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return geo * bp


def test_bleu_matches_nmt_formula_on_random_pairs():
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tok = Tokenizer13a()
    rng = random.Random(3)
    vocab = "the a of renal cyst disease . , ( ) 5 mg tablets Noonan".split()
    for _ in range(500):
        pred = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 40)))
        ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 40)))
        expected = _nmt_bleu(tok(pred).split(), tok(ref).split())
        assert bleu_score(pred, ref) == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# hallucination / comprehensiveness from labels
# ------------------------------------------------------------------------------------------------


def test_factuality_hand_computed_nli_labels():
    # must-have: [entailment, contradiction, neutral]; nice-to-have: [contradiction, entailment]
    # hallucination = 100 * contradicted(2) / all(5) = 40; comprehensiveness = 100 * entailed must(1) / must(3)
    labels = ["entailment", "contradiction", "neutral", "contradiction", "entailment"]
    assert factuality_from_labels(labels, 3) == pytest.approx({"hallucination": 40.0, "comprehensiveness": 100 / 3})


def test_factuality_judge_labels_and_spelling_variants():
    labels = ["supported", "Contradicted", "not_mentioned", "contradicted", "SUPPORTED"]
    assert factuality_from_labels(labels, 3) == pytest.approx({"hallucination": 40.0, "comprehensiveness": 100 / 3})
    assert factuality_from_labels(["not mentioned", "Entailment"], 2) == {
        "hallucination": 0.0,
        "comprehensiveness": 50.0,
    }


def test_factuality_all_and_none():
    assert factuality_from_labels(["entailment"] * 4, 4) == {"hallucination": 0.0, "comprehensiveness": 100.0}
    assert factuality_from_labels(["contradiction"] * 4, 2) == {"hallucination": 100.0, "comprehensiveness": 0.0}
    # a contradicted nice-to-have statement counts for hallucination only: 1/3 -> 33.3; must 2/2 -> 100
    assert factuality_from_labels(["entailment", "entailment", "contradiction"], 2) == pytest.approx(
        {"hallucination": 100 / 3, "comprehensiveness": 100.0}
    )


def test_factuality_empty_lists_follow_olaph():
    # OLAPH: HALLUCINATION -> ZeroDivisionError -> 0; COMPREHENSIVENESS -> `if len(must_have) == 0: return 0`
    assert factuality_from_labels([], 0) == {"hallucination": 0.0, "comprehensiveness": 0.0}
    # no must-have but nice-to-have statements: hallucination defined, comprehensiveness 0 per OLAPH
    assert factuality_from_labels(["contradiction", "entailment"], 0) == {
        "hallucination": 50.0,
        "comprehensiveness": 0.0,
    }
    # opt-out: undefined scores are omitted instead of being reported as 0
    assert factuality_from_labels([], 0, empty_as_zero=False) == {}
    assert factuality_from_labels(["contradiction", "entailment"], 0, empty_as_zero=False) == {"hallucination": 50.0}


def test_factuality_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown factuality label"):
        factuality_from_labels(["entailment", "maybe"], 1)
    with pytest.raises(ValueError, match="n_must_have"):
        factuality_from_labels(["entailment"], 2)
    with pytest.raises(ValueError, match="n_must_have"):
        factuality_from_labels(["entailment"], -1)


@pytest.mark.parametrize("record", OLAPH_LIVEQA_RECORDS, ids=["noonan", "zolmitriptan"])
def test_factuality_structure_matches_olaph_published_scores(record):
    # With OLAPH's similarity rule every must-have statement is either comprehensive (cos >= .5) or hallucinated
    # (cos < .5). So hallucinated must-have = n_must - comprehensive must-have, and the rest of the hallucinated
    # count must fit among the nice-to-have statements. Rebuild labels from each published pair and check that
    # factuality_from_labels gives the published numbers back.
    n_must, n_nice = record["n_must_have"], record["n_nice_to_have"]
    for _, published in record["samples"]:
        hall, comp = published[9], published[10]
        comp_count = round(comp * n_must / 100)
        hall_count = round(hall * (n_must + n_nice) / 100)
        assert comp_count * 100 / n_must == pytest.approx(comp)
        contradicted_must = n_must - comp_count
        contradicted_nice = hall_count - contradicted_must
        assert 0 <= contradicted_nice <= n_nice
        labels = (
            ["entailment"] * comp_count
            + ["contradiction"] * contradicted_must
            + ["contradiction"] * contradicted_nice
            + ["entailment"] * (n_nice - contradicted_nice)
        )
        got = factuality_from_labels(labels, n_must)
        assert got["hallucination"] == pytest.approx(hall, abs=1e-12)
        assert got["comprehensiveness"] == pytest.approx(comp, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# tiny offline models
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def offline(monkeypatch):
    """No hub traffic at all, and no env overrides leaking in from the machine."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(M.ENV_NLI_MODEL, raising=False)
    monkeypatch.delenv(M.ENV_BERTSCORE_MODEL, raising=False)


# ------------------------------------------------------------------------------------------------
# NLIScorer (OLAPH's BioBERT-NLI similarity rule)
# ------------------------------------------------------------------------------------------------


def _olaph_pairwise_cosines(scorer: NLIScorer, answer: str, statements) -> list[float]:
    """OLAPH's loop, verbatim in behaviour: one [pred, statement] batch per statement."""
    import torch

    out = []
    for statement in statements:
        enc = scorer.tokenizer([answer, statement], padding=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.no_grad():
            hidden = scorer.model(**enc)[0]
        mask = enc["attention_mask"].unsqueeze(-1).expand(hidden.size()).float()
        emb = torch.sum(hidden * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)
        out.append(torch.nn.CosineSimilarity(dim=0)(emb[0], emb[1]).item())
    return out


def test_nli_batched_similarities_equal_olaph_pairwise(tiny_nli_dir, offline):
    answer = "  Escitalopram is an SSRI antidepressant ; side effects include nausea and insomnia .  "
    statements = [
        "Escitalopram is an antidepressant of the SSRI class",
        " Side effects of escitalopram include headache",
        "the cat sat on the mat",
        "renal cyst",
        "Lexapro",
    ]
    expected = _olaph_pairwise_cosines(NLIScorer(tiny_nli_dir), answer.strip(), statements)
    for batch_size in (1, 2, 32):
        got = NLIScorer(tiny_nli_dir, batch_size=batch_size).similarities(answer, statements)
        assert got == pytest.approx(expected, abs=1e-5)


def test_nli_label_rule_thresholds_exact(tiny_nli_dir, offline, monkeypatch):
    torch = pytest.importorskip("torch")
    scorer = NLIScorer(tiny_nli_dir)
    # answer embedding (1, 0); statement embeddings chosen so that cos is exactly:
    #   (1, sqrt 3) -> 1/2 (exactly, |v| = 2)   -> entailment (OLAPH: cos >= 0.5 is comprehensive)
    #   (1, 1.7321) -> just below 0.5           -> contradiction (OLAPH: cos < 0.5 is hallucination)
    #   (1, 0)      -> 1                        -> entailment
    #   (0, 1)      -> 0                        -> contradiction
    #   (-1, 0)     -> -1                       -> contradiction
    vectors = {
        "ANSWER": [1.0, 0.0],
        "half": [1.0, math.sqrt(3.0)],
        "below": [1.0, 1.7321],
        "same": [2.0, 0.0],
        "orthogonal": [0.0, 1.0],
        "opposite": [-1.0, 0.0],
    }
    monkeypatch.setattr(
        scorer, "_embed", lambda texts: torch.tensor([vectors[t] for t in texts], dtype=torch.float32)
    )
    statements = ["half", "below", "same", "orthogonal", "opposite"]
    sims = scorer.similarities("ANSWER", statements)
    assert sims[0] == 0.5 and sims[1] < 0.5
    labels = scorer.labels("ANSWER", statements)
    assert labels == ["entailment", "contradiction", "entailment", "contradiction", "contradiction"]
    assert "neutral" not in labels  # OLAPH's similarity rule has only two outcomes
    # must-have = first 3 (half, below, same): comprehensive 2/3; hallucinated: below, orthogonal, opposite = 3/5
    assert scorer.factuality("ANSWER", statements[:3], statements[3:]) == pytest.approx(
        {"hallucination": 60.0, "comprehensiveness": 200 / 3}
    )


def test_nli_mean_pooling_ignores_padding(tiny_nli_dir, offline, monkeypatch):
    """Drive the pooling code with a fake encoder whose token outputs are known."""
    torch = pytest.importorskip("torch")
    scorer = NLIScorer(tiny_nli_dir, batch_size=8)

    class FakeEncoder(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, **kwargs):
            # token vector = (1, id): the pooled vector is the mean over real tokens only
            ids = input_ids.float()
            hidden = torch.stack([torch.ones_like(ids), ids], dim=-1)
            hidden = hidden + (1 - attention_mask.unsqueeze(-1).float()) * 1000.0  # poison padded positions
            return (hidden,)

    monkeypatch.setattr(scorer, "model", FakeEncoder())
    texts = ["the cat sat on the mat", "dog"]
    pooled = scorer._embed(texts)
    for i, text in enumerate(texts):
        ids = scorer.tokenizer(text)["input_ids"]
        assert pooled[i].tolist() == pytest.approx([1.0, sum(ids) / len(ids)])


def test_nli_truncates_long_answers_and_handles_edge_cases(tiny_nli_dir, offline):
    scorer = NLIScorer(tiny_nli_dir, batch_size=4)
    long_answer = " ".join(["escitalopram is an ssri antidepressant"] * 400)  # 2,000 words > 512 tokens
    sims = scorer.similarities(long_answer, ["escitalopram is an ssri", "kidney"])
    assert len(sims) == 2 and all(-1.0 <= s <= 1.0 for s in sims)
    assert scorer.labels("anything", []) == []
    assert scorer.factuality("anything", [], []) == {"hallucination": 0.0, "comprehensiveness": 0.0}
    assert len(scorer.labels("", ["the cat"])) == 1  # empty answer: scored like OLAPH does, no crash
    assert set(scorer.labels("这是中文回答", ["the cat", "kidney"])) <= {"entailment", "contradiction"}


def test_nli_env_var_selects_model(tiny_nli_dir, offline, monkeypatch):
    monkeypatch.setenv(M.ENV_NLI_MODEL, str(tiny_nli_dir))
    scorer = NLIScorer()
    assert Path(scorer.model_dir) == tiny_nli_dir
    assert NLIScorer().labels("the cat", ["the cat"]) == ["entailment"]  # identical text: cos = 1


def test_nli_unavailable_messages(offline, tmp_path):
    missing = tmp_path / "no-such-biobert"
    with pytest.raises(MetricUnavailable) as info:
        NLIScorer(str(missing))
    msg = str(info.value)
    assert str(missing) in msg and "does not exist" in msg
    assert "gsarti/biobert-nli" in msg and "MEDXPERT_NLI_MODEL" in msg and "hf download" in msg

    # default: OLAPH's hub id, which is not in this machine's cache (and nothing is downloaded)
    with pytest.raises(MetricUnavailable) as info:
        NLIScorer()
    msg = str(info.value)
    assert "not" in msg and "local Hugging Face cache" in msg and "MEDXPERT_NLI_MODEL=" in msg


def test_nli_unavailable_when_folder_is_not_a_model(offline, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MetricUnavailable, match="loading .* failed"):
        NLIScorer(str(tmp_path / "empty"))


# ------------------------------------------------------------------------------------------------
# BERTScore (bert-score 0.3.13 algorithm, OLAPH's settings)
# ------------------------------------------------------------------------------------------------


def _reference_bertscore(folder: Path, pred: str, ref: str, num_layers: int) -> float:
    """Straightforward per-pair BERTScore F1 (bert-score 0.3.13 with idf=False), each text encoded alone."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    def embed(text):
        ids = tok.encode(text.strip(), add_special_tokens=True, truncation=True, max_length=512)
        with torch.no_grad():
            hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[num_layers][0]
        return ids, hidden / hidden.norm(dim=-1, keepdim=True)

    (hi, he), (ri, re_) = embed(pred), embed(ref)
    sim = he @ re_.T
    special = {tok.cls_token_id, tok.sep_token_id}
    p_tokens = [i for i, t in enumerate(hi) if t not in special]
    r_tokens = [j for j, t in enumerate(ri) if t not in special]
    precision = sum(sim[i].max().item() for i in p_tokens) / len(p_tokens)
    recall = sum(sim[:, j].max().item() for j in r_tokens) / len(r_tokens)
    return 2 * precision * recall / (precision + recall)


def test_bertscore_matches_per_pair_reference(tiny_nli_dir, offline):
    preds = ["the cat sat on the mat", "a dog ran fast", "renal cyst is a disease of the kidney", "noonan"]
    refs = ["the cat sat on a mat", "the kidney", "noonan syndrome with renal cyst", "a dog ran fast with the cat"]
    got = bertscore(preds, refs, model_path=str(tiny_nli_dir), num_layers=1, batch_size=3)
    expected = [_reference_bertscore(tiny_nli_dir, p, r, 1) for p, r in zip(preds, refs)]
    assert got == pytest.approx(expected, abs=1e-5)


def test_bertscore_identical_empty_long_non_english(tiny_nli_dir, offline):
    path = str(tiny_nli_dir)
    assert bertscore(["the cat sat"], ["the cat sat"], model_path=path, num_layers=2) == pytest.approx([1.0])
    # bert-score: an empty candidate or reference -> F1 0 (NaN replaced by 0), no crash
    assert bertscore(["", "the cat", "  "], ["the cat", "", "dog"], model_path=path, num_layers=2) == [0.0] * 3
    long_reply = " ".join(["the dog ran fast"] * 300)  # 1,200 tokens, truncated to 512
    (value,) = bertscore([long_reply], ["the dog ran fast"], model_path=path, num_layers=2)
    assert 0.0 < value <= 1.0
    (value,) = bertscore(["这是中文回答"], ["the cat"], model_path=path, num_layers=2)
    assert math.isfinite(value)
    assert bertscore([], [], model_path=path) == []


def test_bertscore_roberta_prefix_space_like_transformers4(tiny_roberta_dir, offline):
    # bert-score 0.3.13 encodes RoBERTa text with add_prefix_space=True: the first word must be "Ġthe", not "the",
    # even though the tokenizer folder does not set add_prefix_space.
    tokenizer, _, max_length, _ = LM._load_bertscore_model(str(tiny_roberta_dir), 2, "cpu")
    ids = LM._bertscore_encode(tokenizer, "  the cat ", max_length)
    assert tokenizer.convert_ids_to_tokens(ids) == ["<s>", "Ġthe", "Ġcat", "</s>"]
    assert max_length == 512  # folder sets no model_max_length -> 512 like transformers 4.x for roberta-large
    assert LM._bertscore_encode(tokenizer, "", max_length) == [tokenizer.cls_token_id, tokenizer.sep_token_id]


def test_bertscore_matches_bert_score_package_if_installed(tiny_nli_dir, offline):
    bert_score = pytest.importorskip("bert_score")
    preds = ["the cat sat on the mat", "a dog ran fast", "renal cyst is a disease of the kidney"]
    refs = ["the cat sat on a mat", "the kidney", "noonan syndrome with renal cyst"]
    _, _, f1 = bert_score.score(preds, refs, model_type=str(tiny_nli_dir), num_layers=1, lang="en")
    got = bertscore(preds, refs, model_path=str(tiny_nli_dir), num_layers=1)
    assert got == pytest.approx(f1.tolist(), abs=1e-5)


def test_bertscore_errors(tiny_nli_dir, offline, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        bertscore(["a", "b"], ["a"], model_path=str(tiny_nli_dir))
    with pytest.raises(ValueError, match="num_layers=17"):  # default layer 17 is roberta-large's; tiny model has 2
        bertscore(["a"], ["b"], model_path=str(tiny_nli_dir))
    with pytest.raises(MetricUnavailable) as info:
        bertscore(["a"], ["b"])  # roberta-large, not cached here
    msg = str(info.value)
    assert "roberta-large" in msg and "MEDXPERT_BERTSCORE_MODEL=" in msg and "local Hugging Face cache" in msg
    monkeypatch.setenv(M.ENV_BERTSCORE_MODEL, str(tmp_path / "missing-roberta"))
    with pytest.raises(MetricUnavailable, match="missing-roberta.*does not exist"):
        bertscore(["a"], ["b"])


def test_missing_torch_is_reported_as_unavailable(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name in ("torch", "transformers"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MetricUnavailable, match=r"torch.*transformers.*medxpert-ext\[hf\]"):
        NLIScorer("/nonexistent")
    with pytest.raises(MetricUnavailable, match="BERTScore needs"):
        bertscore(["a"], ["b"], model_path="/nonexistent")


# ------------------------------------------------------------------------------------------------
# real MedLFQA data
# ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not (MEDLFQA_DIR / "kqa_golden.jsonl").is_file(), reason=f"MedLFQA data not found at {MEDLFQA_DIR}")
def test_real_kqa_golden_reference_against_itself():
    rows = [json.loads(line) for line in (MEDLFQA_DIR / "kqa_golden.jsonl").open()][:5]
    assert len(rows) == 5
    for row in rows:
        answer = row["Free_form_answer"]
        assert rouge_scores(answer, answer) == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
        assert bleu_score(answer, answer) == pytest.approx(1.0)
        rec = olaph_rouge_record(answer, answer)
        assert set(rec.values()) == {1.0}
        must, nice = row["Must_have"], row["Nice_to_have"]
        labels = ["entailment"] * (len(must) + len(nice))
        assert factuality_from_labels(labels, len(must)) == {"hallucination": 0.0, "comprehensiveness": 100.0}
