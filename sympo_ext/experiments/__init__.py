"""Reproductions of the SymPO paper's experiments with sympo_ext.

    python -m sympo_ext.experiments.digits [--quick]   # digits-preference (the paper's MNIST experiment)

Shared helpers (CSV, summaries, markdown tables, plots, worker pools) live in
:mod:`sympo_ext.experiments.common` so every experiment writes the same kind of
artefacts. The experiments need the ``experiments`` extra (scikit-learn, scipy,
matplotlib, tqdm).
"""
