"""What people read: model cards, the Models page and the status summary."""
