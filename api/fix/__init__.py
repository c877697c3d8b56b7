"""The fix agent: from an incident to a plan, and a diff only when it provably applies.

`runner.py` holds the `FixAgentRunner` interface and its two runners; `agent.py` picks one per
request and bounds it by the budget. Repository access (`repository.py`, `github.py`), the model
client (`model.py`), answer parsing (`answer.py`) and diff validation (`validate.py`, `checks.py`)
are each a module of their own. See docs/fix-agent.md.
"""
