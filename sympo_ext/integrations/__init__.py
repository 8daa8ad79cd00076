"""Integrations of sympo_ext into other training libraries (optional extras).

* :mod:`sympo_ext.integrations.trl`: ``SymPOTrainer`` / ``SymPOConfig``, drop-in subclasses of
  TRL's ``DPOTrainer`` / ``DPOConfig`` (``pip install 'sympo_ext[trl]'``).

Nothing here is imported by ``import sympo_ext``: each integration imports its library itself.
"""
