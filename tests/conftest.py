"""Every test starts with the console log handlers of earlier in-process tool runs writing to its own
stdout; the runs the suite writes (GBs of checkpoints in all) are deleted as soon as they have passed."""

import shutil

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
