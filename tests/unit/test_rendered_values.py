"""Templated arguments rendered to text are read back alike by every operator and sensor.

The expected value is the list the generator drew, not anything the code computes: each shape a
template can render it to (Python's repr of a list or tuple, JSON, with blanks around) must come
back as that list, through the one reader and through each argument that takes a list.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads.rendered import rendered_list, rendered_value
from airflow_provider_dialer.operators.base import LeadsOperator
from airflow_provider_dialer.operators.campaign import CreateCampaignOperator
from airflow_provider_dialer.sensors.wait import ImportJobSensor, ListLoadedSensor

items = st.one_of(
    st.integers(),
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)
lists = st.lists(items, max_size=6)
blanks = st.sampled_from(["", " ", "\n", "  \t"])


@st.composite
def rendered(draw: Any) -> tuple[str, list[Any]]:
    """A list and one text a template could have rendered it to."""
    value = draw(lists)
    shape = draw(st.sampled_from(["repr", "tuple", "json", "json-ascii"]))
    text = {
        "repr": repr(value),
        "tuple": repr(tuple(value)),
        "json": json.dumps(value, ensure_ascii=False),
        "json-ascii": json.dumps(value),
    }[shape]
    return draw(blanks) + text + draw(blanks), value


def _same(got: list[Any], want: list[Any]) -> bool:
    # type and value per item: True must not come back as 1, nor 1.0 as 1
    return len(got) == len(want) and all(type(g) is type(w) and g == w for g, w in zip(got, want, strict=True))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rendered())
def test_a_rendered_list_reads_back_as_the_list(case: tuple[str, list[Any]]) -> None:
    text, value = case
    assert _same(rendered_list(text), value)
    assert _same(list(rendered_value(text)), value)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(rendered())
def test_every_list_argument_reads_the_same_shapes(case: tuple[str, list[Any]]) -> None:
    text, value = case
    assert _same(list(LeadsOperator.as_source(text)), value)
    sensor = ImportJobSensor(task_id="wait", conn_id="c", campaign_id=1, job_ids=text)
    assert _same(sensor._items(), value)
    lists_sensor = ListLoadedSensor(task_id="loaded", conn_id="c", targets=text)
    assert _same(lists_sensor._items(), value)
    if value:  # an empty list means "not given" to the campaign operator
        assert _same(CreateCampaignOperator._as_list(text, "lists") or [], value)


@given(st.text(max_size=20).filter(lambda t: not t.strip().startswith(("[", "(", "{"))))
def test_a_single_rendered_value_is_a_one_item_list(text: str) -> None:
    assert rendered_list(text) == [text.strip()]
    assert rendered_value(text) == text


@pytest.mark.parametrize("empty", ["[]", " [ ] ", "()", "\n[]\n", None, []])
def test_empty_shapes_are_an_empty_list(empty: Any) -> None:
    assert rendered_list(empty) == []


def test_a_rendered_object_is_one_target() -> None:
    target = {"campaign_id": 9, "list_id": "a"}
    for text in (repr(target), json.dumps(target)):
        assert ListLoadedSensor(task_id="loaded", conn_id="c", targets=text)._items() == [target]


@pytest.mark.parametrize("broken", ["[1, 2", "(x)", "{'a': }", "[open('f')]"])
def test_text_that_opens_like_a_list_but_is_none_fails_in_the_family(broken: str) -> None:
    with pytest.raises(DialerConfigError, match="job_ids"):
        ImportJobSensor(task_id="wait", conn_id="c", campaign_id=1, job_ids=broken)._items()
    with pytest.raises(DialerConfigError, match="source"):
        LeadsOperator.as_source(broken)
    with pytest.raises(DialerConfigError, match="agents"):
        CreateCampaignOperator._as_list(broken, "agents")
