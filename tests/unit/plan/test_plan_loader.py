"""YAML loading: positions of values and keys, duplicate keys, tabs, aliases, bad files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hdh_migrate.errors import PlanError, UsageError
from hdh_migrate.plan import check_plan, check_text, load_plan
from hdh_migrate.plan.issues import dotted, env_name
from hdh_migrate.plan.loader import MAX_EXPANDED_NODES, LoadProblem, load_document

TEXT = """\
a: 1
b:
  c: [x, y]
  d:
    - e: true
      f: "quoted"
"""


def test_positions_of_values_are_one_based() -> None:
    locations = load_document(TEXT).locations

    assert locations.of(("a",)) == (1, 4)
    assert locations.of(("b", "c")) == (3, 6)
    assert locations.of(("b", "c", 1)) == (3, 10)
    assert locations.of(("b", "d", 0)) == (5, 7)
    assert locations.of(("b", "d", 0, "f")) == (6, 10)


def test_positions_of_keys() -> None:
    locations = load_document(TEXT).locations

    assert locations.of(("b", "d"), key=True) == (4, 3)
    assert locations.of(("b", "d", 0, "e"), key=True) == (5, 7)


def test_missing_path_falls_back_to_closest_ancestor() -> None:
    locations = load_document(TEXT).locations

    assert locations.of(("b", "d", 0, "missing", "deeper")) == (5, 7)
    assert locations.of(("nothing",)) == (1, 1)


def test_data_is_constructed_safely() -> None:
    assert load_document(TEXT).data == {
        "a": 1,
        "b": {"c": ["x", "y"], "d": [{"e": True, "f": "quoted"}]},
    }
    with pytest.raises(LoadProblem):
        load_document("a: !!python/object/apply:os.system ['true']\n")


def test_duplicate_key_points_at_the_second_key() -> None:
    with pytest.raises(LoadProblem) as caught:
        load_document("a: 1\nb:\n  c: 1\n  c: 2\n")

    assert (caught.value.line, caught.value.column) == (4, 3)
    assert caught.value.path == ("b", "c")
    assert "first written at line 3" in caught.value.message


def test_tab_indentation_is_reported_at_the_tab() -> None:
    with pytest.raises(LoadProblem) as caught:
        load_document("a:\n  b: 1\n\tc: 2\n")

    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "tab" in caught.value.message


def test_anchors_aliases_and_merge_keys_are_allowed() -> None:
    document = load_document(
        "base: &ssh {host: h, user: u}\none:\n  <<: *ssh\n  port: 2222\ntwo: *ssh\n"
    )

    assert document.data["one"] == {"host": "h", "user": "u", "port": 2222}
    assert document.data["two"] == {"host": "h", "user": "u"}
    assert document.locations.of(("one", "port")) == (4, 9)


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]

    with pytest.raises(LoadProblem, match="too many values"):
        load_document("\n".join(lines) + "\n")
    assert MAX_EXPANDED_NODES < 10**7


def test_several_documents_are_refused() -> None:
    with pytest.raises(LoadProblem) as caught:
        load_document("a: 1\n---\nb: 2\n")

    assert caught.value.line == 2


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(LoadProblem, match="plain string"):
        load_document("? [a, b]\n: 1\n")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found") as caught:
        check_plan(tmp_path / "absent.yaml")

    assert caught.value.exit_code == 2


def test_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="directory"):
        check_plan(tmp_path)


def test_binary_file_is_a_plan_error_at_1_1(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    with pytest.raises(PlanError) as caught:
        check_plan(path)

    assert (caught.value.line, caught.value.column) == (1, 1)
    assert "not a text file" in caught.value.one_line()


def test_latin1_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes("name: donn\xe9es\n".encode("latin-1"))

    with pytest.raises(PlanError, match="UTF-8"):
        check_plan(path)


def test_utf8_bom_is_accepted(
    minimal_text: str, write_plan: Callable[[str], Path], tmp_path: Path
) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + minimal_text.encode())

    assert load_plan(path).name == "unit-plan"


def test_errors_carry_the_file_name(minimal_text: str) -> None:
    result = check_text(minimal_text.replace("version: 1", "version: 3"), "my/plan.yaml")

    assert result.errors[0].one_line().startswith("my/plan.yaml:1:10: version: ")


def test_unknown_key_error_points_at_the_key(minimal_text: str) -> None:
    text = minimal_text.replace("    bucket: hdh-snds\n", "    bucket: hdh-snds\n    buckett: x\n")

    error = check_text(text).errors[0]

    assert (error.line, error.column, error.path) == (15, 5, "targets.snc.buckett")
    assert "did you mean 'bucket'?" in (error.hint or "")


def test_missing_key_points_at_its_mapping(minimal_text: str) -> None:
    text = minimal_text.replace("    bucket: hdh-snds\n", "")

    error = check_text(text).errors[0]

    assert (error.line, error.column, error.path) == (11, 5, "targets.snc.bucket")
    assert error.message == "missing required key 'bucket'"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("waves", 0, "datasets", 1, "target"), "waves[0].datasets[1].target"),
        (("targets", "ovh-snc", "bucket"), "targets.ovh-snc.bucket"),
        (("sources", "my.source", "kind"), "sources['my.source'].kind"),
        ((), ""),
    ],
)
def test_dotted_paths(path: tuple[str | int, ...], text: str) -> None:
    assert dotted(path) == text


def test_suggested_environment_names() -> None:
    assert env_name(("targets", "ovh", "credentials", "secret_key")) == "OVH_SECRET_KEY"
    assert env_name(("sources", "azure-hdh", "credential")) == "AZURE_HDH_CREDENTIAL"
    assert env_name(("keys", "1st", "pin")) == "HDH_1ST_PIN"


def test_check_result_exposes_positions(minimal_text: str) -> None:
    result = check_text(minimal_text)

    assert result.locations.of(("targets", "snc", "region")) == (13, 13)
