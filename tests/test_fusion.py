"""The XLA:CPU fusion tuning (dycore.fusion) changes no number."""
from __future__ import annotations

import numpy as np
import pytest

from dycore import Config, Simulation, fusion


@pytest.mark.parametrize("scheme", ["muscl", "weno5z"])
def test_fusion_hints_off_gives_the_same_numbers(monkeypatch, scheme):
    cfg = Config(case="unstable_jet", nx=14, ny=12, scheme=scheme)
    monkeypatch.setenv("DYCORE_FUSION_HINTS", "1")
    assert fusion.enabled()
    on = Simulation(cfg)
    a = on.run(on.initial_state(), 3)
    monkeypatch.setenv("DYCORE_FUSION_HINTS", "0")
    assert not fusion.enabled()
    off = Simulation(cfg)
    b = off.run(off.initial_state(), 3)
    for name in ("h", "hu", "hv"):
        assert np.array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)))
