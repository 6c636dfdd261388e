"""The use cases every entry point calls; each takes its ports as arguments."""
