"""sympo_ext.sequences: the padded / packed per-sequence reductions and the "average, 0 when empty"
rule (values and gradients), against explicit loops in float64."""

from __future__ import annotations

import torch

from sympo_ext.sequences import average_or_zero, inverse_counts, per_sequence_sum, sequence_ids


def test_sequence_ids_and_packed_sums_equal_a_loop():
    cu = torch.tensor([0, 3, 3, 7, 8])  # an empty sequence in the middle
    ids = sequence_ids(cu, 8)
    assert ids.tolist() == [0, 0, 0, 2, 2, 2, 2, 3]
    values = torch.randn(8, dtype=torch.float64)
    want = torch.stack([values[cu[n] : cu[n + 1]].sum() for n in range(4)])
    torch.testing.assert_close(per_sequence_sum(values, 4, ids), want, rtol=0, atol=1e-15)


def test_padded_sums_reshape_by_sequence():
    values = torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(per_sequence_sum(values.reshape(-1), 3), values.sum(1), rtol=0, atol=1e-15)


def test_average_or_zero_and_its_gradient():
    total = torch.tensor([6.0, 5.0, -2.0], dtype=torch.float64, requires_grad=True)
    count = torch.tensor([3.0, 0.0, 4.0], dtype=torch.float64)
    mean = average_or_zero(total, count)
    assert mean.tolist() == [2.0, 0.0, -0.5]
    (grad,) = torch.autograd.grad(mean.sum(), total)
    assert grad.tolist() == [1 / 3, 0.0, 0.25]
    assert inverse_counts(count).tolist() == grad.tolist()  # d mean / d total, the same rule
