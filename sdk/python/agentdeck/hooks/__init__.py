"""Framework hooks: plain functions as tools, the OpenAI client."""
