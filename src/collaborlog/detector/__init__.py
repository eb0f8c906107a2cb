"""The CollaborLog detector: its config, the facade, evidence, decision fusion, the AEM, persistence."""
