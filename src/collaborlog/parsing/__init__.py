"""Parsing log lines into templates: variable masking and the Drain miner."""
