"""Reading logs: dataset configs, readers, grouping into sequences, labels, splits, presets."""
