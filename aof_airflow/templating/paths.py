"""The reference path grammar both `${...}` placeholders and the condition language read: `a.b-c.0:-default`.

A leaf module: placeholders (which parse inline expressions with the condition language) and conditions (whose
`${...}` operands are paths) both import it, neither imports the other's parser back.
"""

from __future__ import annotations

import re

SEGMENT = r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+"
PATH_RE = re.compile(rf"\s*((?:{SEGMENT})(?:\.(?:{SEGMENT}))*)\s*(?::-(.*))?", re.DOTALL)
