"""common/validation.py: the one formatter of pydantic errors."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from common.validation import Problem, one_line, problems

pytestmark = pytest.mark.unit


class Thing(BaseModel):
    count: int
    name: str

    @model_validator(mode="after")
    def _rule(self) -> Thing:
        if self.name == "bad":
            raise ValueError("a rule over the whole thing")
        return self


def refused(**fields: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Thing.model_validate(fields)
    return caught.value


def test_fields_are_dotted_paths_and_the_input_is_never_shown() -> None:
    exc = refused(count="secret-value-123")
    found = problems(exc)
    assert [p.field for p in found] == ["count", "name"]
    assert found[0].type == "int_parsing"
    assert all("secret-value-123" not in p.message for p in found)
    assert "secret-value-123" not in one_line(exc)


def test_a_model_rule_is_named_by_whole_and_loses_the_value_error_prefix() -> None:
    exc = refused(count=1, name="bad")
    assert problems(exc) == [Problem("body", "a rule over the whole thing", "value_error")]
    assert one_line(exc, whole="settings", upper=True) == "SETTINGS: a rule over the whole thing"


def test_limit_caps_the_items() -> None:
    exc = refused()
    assert len(problems(exc)) == 2
    assert len(problems(exc, limit=1)) == 1
    assert one_line(exc, limit=1).count(";") == 0
