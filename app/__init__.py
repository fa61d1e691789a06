"""Sophia Intel AI's routing layer: every LLM call of the agent platform through the Portkey gateway."""
