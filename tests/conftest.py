import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One thread: the tests' models are tiny, and on a busy machine with few cores several threads
    mostly wait for each other (measured 3-10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
