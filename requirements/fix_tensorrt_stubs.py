"""Make TensorRT's published stubs (tensorrt-stubs, generated from the pybind11 docstrings) parseable by mypy.

Two generator slips stop mypy from reading them at all: parameters named ``in`` (a Python keyword) and parameters
without a default after ones with a default. Both are rewritten in place (``in`` -> ``in_``; ``= ...`` added);
nothing else changes, so every name and type the stubs declare is checked as published.

    python requirements/fix_tensorrt_stubs.py .venv/typing-stubs
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

_PARAM = re.compile(r"(\w+)\s*:\s*([^=,]+?)(\s*=\s*[^,]+)?$")


def _fix_signature(line: str) -> str:
    head, sep, rest = line.partition("(")
    params, close, tail = rest.rpartition(")")
    parts, depth, current = [], 0, ""
    for ch in params:  # split on top-level commas only
        depth += ch in "[("
        depth -= ch in "])"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    seen_default = False
    fixed = []
    for part in parts:
        text = part.strip()
        text = re.sub(r"^in\s*:", "in_:", text)
        if "=" in text:
            seen_default = True
        elif seen_default and text and not text.startswith("*") and ":" in text:
            text += " = ..."
        fixed.append(text)
    return head + sep + ", ".join(fixed) + close + tail


def fix(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    changed = 0
    for _ in range(1000):
        try:
            ast.parse("\n".join(lines))
            break
        except SyntaxError as exc:
            i = (exc.lineno or 1) - 1
            new = _fix_signature(lines[i])
            if new == lines[i]:
                raise SystemExit(f"{path}:{i + 1}: cannot fix: {lines[i].strip()}") from exc
            lines[i] = new
            changed += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


if __name__ == "__main__":
    root = Path(sys.argv[1])
    for pyi in sorted(root.rglob("*.pyi")):
        n = fix(pyi)
        if n:
            print(f"fixed {n} signatures in {pyi}")
