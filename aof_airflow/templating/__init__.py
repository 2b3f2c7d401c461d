"""The template language: `${...}` references, `:-` defaults, the condition language, and renderers."""

from aof_airflow.templating.conditions import Condition, parse_condition, to_bool
from aof_airflow.templating.context import TemplateContext
from aof_airflow.templating.errors import ConditionError, TemplateError, UnknownReference
from aof_airflow.templating.placeholders import Placeholder, placeholders
from aof_airflow.templating.render import (
    Marked,
    ShellScript,
    render_data,
    render_json,
    render_marked,
    render_shell,
    render_text,
    render_url,
    value_to_text,
)
from aof_airflow.templating.when import evaluate_condition, evaluate_when

__all__ = [
    "Condition",
    "ConditionError",
    "Marked",
    "Placeholder",
    "ShellScript",
    "TemplateContext",
    "TemplateError",
    "UnknownReference",
    "evaluate_condition",
    "evaluate_when",
    "parse_condition",
    "placeholders",
    "render_data",
    "render_json",
    "render_marked",
    "render_shell",
    "render_text",
    "render_url",
    "to_bool",
    "value_to_text",
]
