"""Smoothing a pose sequence over time: the One-Euro filter (causal, for live streams) and a centred moving
average (offline), the fixed filters a temporal lifter is measured against."""
from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    """The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012), elementwise on arrays.

    A low-pass filter whose cut-off rises with speed: at rest it smooths strongly (min_cutoff, Hz) and
    removes jitter; in fast motion the cut-off grows by beta Hz per unit/s of speed, so it lags little.
    d_cutoff (Hz) smooths the speed estimate itself. Timestamps are seconds and must increase.
    The defaults suit joints in mm at 30 fps: 10 mm of jitter on a still joint shrinks about
    threefold, and a joint moving at 1 m/s trails by about 20 mm (measured in tests/test_infer.py).
    """

    DEFAULT_MIN_CUTOFF = 0.5
    DEFAULT_BETA = 0.005

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One-Euro filter needs min_cutoff > 0, d_cutoff > 0 and beta >= 0, "
                             f"got {min_cutoff}, {d_cutoff}, {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged (e.g. after the person was lost)."""
        self._value = self._speed = self._time = None

    @staticmethod
    def _smoothing_factor(cutoff, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, value: np.ndarray, t: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self._value is None:
            self._value, self._speed, self._time = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self._time
        if dt <= 0:
            raise ValueError(f"One-Euro filter timestamps must increase: got {t} after {self._time}")
        a_speed = self._smoothing_factor(self.d_cutoff, dt)
        self._speed = a_speed * (value - self._value) / dt + (1 - a_speed) * self._speed
        a_value = self._smoothing_factor(self.min_cutoff + self.beta * np.abs(self._speed), dt)
        self._value = a_value * value + (1 - a_value) * self._value
        self._time = t
        return self._value.copy()


def moving_average(sequence: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over the first axis of (T, ...) values, window frames wide (odd); at the
    clip's edges the window shrinks symmetrically, so no frame is averaged with frames that do not exist."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"the moving average's window must be an odd number of frames, not {window}")
    values = np.asarray(sequence, dtype=np.float64)
    cumulative = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    t = np.arange(len(values))
    half = np.minimum.reduce([np.full(len(values), window // 2), t, len(values) - 1 - t])
    shape = (-1,) + (1,) * (values.ndim - 1)
    return (cumulative[t + half + 1] - cumulative[t - half]) / (2 * half + 1).reshape(shape)
