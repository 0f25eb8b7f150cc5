"""AdaptiveAugment and LeCamRegularization under real 2-process DDP (CPU, gloo): ranks end
with identical p, anchors and weights, and p is the one the all-rank statistics give."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_sota_run.py")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("ddp_sota")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCAL_RANK", "NODE_RANK"))}
    for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "GROUP_RANK"):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt") for r in (0, 1)]


def test_ranks_end_with_identical_p_anchors_and_weights(ranks) -> None:
    rank0, rank1 = ranks
    assert rank0["steps"] == rank1["steps"] == [16, 16]
    assert torch.equal(rank0["weights"], rank1["weights"])
    assert rank0["p"] == rank1["p"] and rank0["ps"] == rank1["ps"]
    assert len(set(rank0["ps"])) > 2  # p moved
    assert torch.equal(rank0["anchors"], rank1["anchors"])
    assert rank0["state"] == rank1["state"]  # the checkpointed state holds all-rank sums


def test_p_follows_the_sum_of_both_ranks_statistics(ranks) -> None:
    rank0, rank1 = ranks
    assert rank0["local"] != rank1["local"]  # ranks see different data: the sum matters
    p, ps = 0.2, []
    for (s0, c0, i0), (s1, c1, i1) in zip(rank0["local"], rank1["local"], strict=True):
        rt = (s0 + s1) / (c0 + c1)
        step = math.copysign(1.0, rt - 0.6) if rt != 0.6 else 0.0
        p = min(1.0, max(0.0, p + step * (i0 + i1) / 400))
        ps.append(p)
    assert ps == pytest.approx(rank0["ps"], abs=1e-12)
    local_only = []  # what rank 0 alone would have computed differs
    p = 0.2
    for s0, c0, i0 in rank0["local"]:
        p = min(1.0, max(0.0, p + math.copysign(1.0, s0 / c0 - 0.6) * i0 / 400))
        local_only.append(p)
    assert local_only != rank0["ps"]
