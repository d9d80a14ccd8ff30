"""Deep cross-sell models in PyTorch (extra ``xsell[deep]``), trained on CPU or CUDA.

- :mod:`~xsell.models.deep.neural`: the two-tower + MLP hybrid (``neural``);
- :mod:`~xsell.models.deep.sequence`: a causal Transformer over baskets (``sequence``);
- :mod:`~xsell.models.deep.examples`: customers' baskets in time order and the
  training examples both learn from (numpy only);
- :mod:`~xsell.models.deep.training`: seeding, threads, devices, the epoch loop
  with early stopping and weights as plain arrays for bundles.

PyTorch is imported only when a deep model is fitted or loaded.
"""
