"""Import a plan from the text of its document: lines → a draft plan file for review.

The package is pure: `import_lines` takes numbered lines, `render` returns the plan file's
text. Reading Word or text files is `kehoach.cli_import`'s job.
"""

from __future__ import annotations

from .assemble import import_lines
from .model import Draft, DraftObligation, ReviewItem
from .render import KIND_NAMES, render

__all__ = ["KIND_NAMES", "Draft", "DraftObligation", "ReviewItem", "import_lines", "render"]
