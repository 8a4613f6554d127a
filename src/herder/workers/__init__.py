"""Worker classes: how connections are accepted and driven (sync, event) and their base."""
