"""Exit codes of every command: `plan` says with 2 that changes are pending."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
