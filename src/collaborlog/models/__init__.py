"""The learned models: the coordinator (router), the small model, their MLPs and training loop."""
