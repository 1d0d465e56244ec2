"""Writes the small NumPy files the readers spec checks parseNpy against (real np.save output).

    ~/.cache/slimdex-bench/venv/bin/python scripts/npy_fixtures.py
"""

import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "__test__", "fixtures", "npy")
os.makedirs(OUT, exist_ok=True)
a = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5) / 3
np.save(os.path.join(OUT, "f32_3x4.npy"), a)  # float32, C order, format 1.0
np.save(os.path.join(OUT, "f32_vec5.npy"), np.linspace(-1, 1, 5, dtype=np.float32))
np.save(os.path.join(OUT, "f64_3x4.npy"), a.astype(np.float64))
np.save(os.path.join(OUT, "f32_fortran_3x4.npy"), np.asfortranarray(a))
np.save(os.path.join(OUT, "f32_be_3x4.npy"), a.astype(">f4"))
np.save(os.path.join(OUT, "f32_0x4.npy"), np.zeros((0, 4), dtype=np.float32))
with open(os.path.join(OUT, "f32_3x4.values.txt"), "w") as f:
    f.write(" ".join(repr(float(x)) for x in a.ravel()) + "\n")
