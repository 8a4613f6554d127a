"""The master process: binds listeners, forks workers, watches them, obeys signals."""
