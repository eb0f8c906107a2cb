"""The operator stage: what a person running the detector on live logs needs around it."""
