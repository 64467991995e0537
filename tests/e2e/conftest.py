"""End-to-end tests run the plugin with pytester, in process, as users run it.

pytester restores ``sys.modules`` after each inner run, so modules first imported by an inner
run are imported again by the next one. The SDKs take a second or more to import: importing
them here, once, keeps every inner run fast.
"""

from __future__ import annotations

import anthropic  # noqa: F401
import google.genai  # noqa: F401
import openai  # noqa: F401
import vcr  # noqa: F401
import yaml  # noqa: F401
