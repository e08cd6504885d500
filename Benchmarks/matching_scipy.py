"""The SciPy peer of `tandem-bench matching`: maximum-total assignment of the same score matrix
with scipy.optimize.linear_sum_assignment, each mentor's column copied once per seat (SciPy has
no capacities). Prints `total=… matched=… seconds=…` (seconds of the solve alone)."""
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

path, mentees, mentors, capacity = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scores = np.fromfile(path, dtype="<i2").reshape(mentees, mentors).astype(np.int64)
# An excluded pair (-1) is worth nothing: the same as leaving the mentee unmatched.
benefit = np.where(scores < 0, 0, scores)
seats = np.repeat(benefit, capacity, axis=1)
started = time.perf_counter()
rows, columns = linear_sum_assignment(seats, maximize=True)
seconds = time.perf_counter() - started
chosen = scores[rows, columns // capacity]
matched = int((chosen > 0).sum())
print(f"total={int(benefit[rows, columns // capacity].sum())} matched={matched} seconds={seconds:.3f}")
