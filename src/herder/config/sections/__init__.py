"""Setting declarations, one module per group of reference sections."""
