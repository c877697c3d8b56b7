"""The fix agent: from an incident to a plan, and a diff only when it provably applies.

- `runner.py`: the `FixAgentRunner` interface, the pure `rules` runner and the `model` runner;
  `agent.py` picks one per request and bounds it by the budget.
- `context.py` (what the runners read), `outcome.py` (what they return), `rules.py` (the plan).
- `model.py` (chat-completions client), `prompt.py` (what is sent), `redact.py` (what is not),
  `answer.py` (reading the plan and diff back), `files.py` (which files the model sees).
- `repository.py` (the interface, local git checkouts), `github.py` (GitHub App installations).
- `validate.py` (`git apply --check` at the base SHA), `checks.py` (the optional check command),
  `process.py` (bounded subprocesses with a scrubbed environment).

See docs/fix-agent.md.
"""
