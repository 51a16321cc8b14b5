"""Results store and leaderboard over lm-eval and OpenCompass outputs (extra ``[results]``).

Python API (what the regression gate reads)::

    from medxpert_ext.results.store import Store
    with Store.open("medxpert_results.db") as store:          # or "postgresql://user@host/db"; None -> $MEDXPERT_DB
        run = store.resolve_run("step:1200", model="med-llama")  # or 12, "#12", "checkpoint-1200", a results path
        store.runs(model=None, harness=None)                     # [RunInfo], oldest evaluation first
        store.scores([run.id])                                   # [ScoreInfo(task, metric, value %, stderr, n, ...)]
        store.tasks(run.id)                                      # tasks with per-sample rows
        store.samples(run.id, "medxpert_text_reasoning")         # {sample_id: SampleInfo(correct, fail, pred, ...)}
"""
