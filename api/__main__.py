"""`python -m api` is the `agentdeck` command."""

from api.cli import main

main()
