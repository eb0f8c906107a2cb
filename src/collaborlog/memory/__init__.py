"""What the detector remembers of the history and the stream: patterns, messages, signatures, prevalence."""
