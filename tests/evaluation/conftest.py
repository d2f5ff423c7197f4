"""The study's published encoder-test encodings, from the copy bundled in the package."""
from importlib import resources

import pytest


@pytest.fixture(scope="session")
def bundled_paper():
    with resources.as_file(resources.files("vexscreen") / "resources" / "paper") as path:
        yield path
