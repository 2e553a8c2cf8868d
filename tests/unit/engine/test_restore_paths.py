import pytest

from hdh_migrate.engine.restore_fs import Unsafe, key_segments


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "/abs", "a/../../b", "a/./../..", "", "a//b.txt", "x/", "a\0b"]
)
def test_keys_that_are_not_plain_relative_paths_are_refused(bad):
    with pytest.raises(Unsafe):
        key_segments(bad)


def test_a_segment_longer_than_a_file_name_is_refused():
    with pytest.raises(Unsafe, match="255 bytes"):
        key_segments("d/" + "é" * 128)


def test_nested_unicode_keys_are_split_into_segments():
    assert key_segments("é/日本 100%.csv") == ["é", "日本 100%.csv"]
