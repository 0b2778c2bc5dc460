"""Every test starts with the console log handlers of earlier in-process tool runs writing to its own
stdout; the runs the suite writes (GBs of checkpoints in all) are deleted as soon as they have passed.

The suite and the processes it starts use one OpenMP/MKL thread each unless OMP_NUM_THREADS says
otherwise: on the 2-core machines it runs on, other processes (the tests' own tools and loader workers,
a study in the background) hold the cores, and two threads that wait for each other at every
parallel operation made it three to four times slower (``pytest -m "not slow"``: 325 s against 108 s
at load 3 to 5). Results do not depend on it: bitwise comparisons are between runs with the same threads.
"""

import os
import shutil

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported, and for every process started
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest
from fixtures.log_streams import rebind_closed_log_streams


@pytest.fixture(autouse=True)
def log_streams_of_this_test():
    rebind_closed_log_streams()


@pytest.fixture(scope="module", autouse=True)
def module_folders_deleted_once_the_module_passed(request, tmp_path_factory):
    """The folders of a module's shared runs (``tmp_path_factory.mktemp``) go with the module if none
    of its tests failed; a test's own ``tmp_path`` goes when it passes (``tmp_path_retention_policy``)."""
    base = tmp_path_factory.getbasetemp()
    before, failed_before = set(base.iterdir()), request.session.testsfailed
    yield
    if request.session.testsfailed == failed_before:
        for folder in set(base.iterdir()) - before:
            shutil.rmtree(folder, ignore_errors=True)
