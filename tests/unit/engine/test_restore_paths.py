from pathlib import Path

import pytest

from hdh_migrate.engine.restore import safe_path
from hdh_migrate.errors import UsageError


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs", "a/../../b", "a/./../..", ""])
def test_keys_that_would_escape_the_directory_are_refused(bad):
    with pytest.raises(UsageError):
        safe_path(Path("/restore"), bad)


def test_nested_unicode_keys_land_under_the_root():
    assert safe_path(Path("/r"), "é/日本 100%.csv") == Path("/r/é/日本 100%.csv")
