"""The demo source: a seeded table of customer events and the bad-input scenarios applied to it."""
