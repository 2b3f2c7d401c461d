"""The template language: `${...}` references, `:-` defaults, the condition language, and renderers."""

from aof_airflow.templating.conditions import Condition, parse_condition, to_bool
from aof_airflow.templating.context import TemplateContext
from aof_airflow.templating.errors import ConditionError, TemplateError, UnknownReference
from aof_airflow.templating.placeholders import Placeholder, placeholders
from aof_airflow.templating.render import (
    ShellScript,
    render_data,
    render_json,
    render_shell,
    render_text,
    value_to_text,
)
from aof_airflow.templating.when import evaluate_condition, evaluate_when

__all__ = [
    "Condition",
    "ConditionError",
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
    "render_shell",
    "render_text",
    "to_bool",
    "value_to_text",
]
