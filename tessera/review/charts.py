"""Small horizontal bar charts as inline SVG data (no JavaScript, no CDN): the template draws them."""

from __future__ import annotations

from typing import Any

BAR_W = 260  # px of the longest bar


def bars(values: dict[Any, int]) -> list[dict[str, Any]]:
    """Rows of {label, value, width} with width scaled to the largest value."""
    top = max(values.values(), default=0) or 1
    return [
        {"label": str(k), "value": int(v), "width": max(1, round(BAR_W * int(v) / top)) if v else 0}
        for k, v in values.items()
    ]
