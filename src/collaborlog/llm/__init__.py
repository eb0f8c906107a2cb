"""The LLM stage: backends, embedded models, the call governor, prompts, answer parsing, the agents."""
