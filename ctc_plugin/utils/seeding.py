"""Seeds derived from several integers (run seed, epoch, iteration, rank, sample index)."""

_PRIME = 1_000_003


def mix_seed(*values: int) -> int:
    """A 63-bit seed that differs for every tuple of non-negative ``values``."""
    seed = 0
    for value in values:
        seed = (seed * _PRIME + int(value)) % (2**63)
    return seed
