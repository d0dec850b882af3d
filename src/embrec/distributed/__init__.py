"""Training across processes on ``torch.distributed`` (gloo on the CPU, NCCL on GPUs).

* :func:`fit_distributed`: fit a model across the ranks of a process group (every rank calls it).
* :mod:`~embrec.distributed.dsgd`: the rating objective by DSGD with the user and item tables sharded
  row-wise by block over the ranks; the same model bit for bit whatever the number of ranks.

torch.distributed is imported when these are used, not by ``import embrec``.
"""

from embrec.distributed.training import fit_distributed, sharding_plan

__all__ = ["fit_distributed", "sharding_plan"]
