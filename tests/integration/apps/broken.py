"""An app module that fails to import."""

raise ImportError("this module is broken on purpose")
