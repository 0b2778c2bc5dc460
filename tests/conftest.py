"""Every test starts with the console log handlers of earlier in-process tool runs writing to its own stdout."""

import pytest
from log_streams import rebind_closed_log_streams


@pytest.fixture(autouse=True)
def log_streams_of_this_test():
    rebind_closed_log_streams()
