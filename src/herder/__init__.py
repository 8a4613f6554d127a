"""herder: a prefork application server for Python web apps."""

__version__ = "0.1.0"
SERVER_SOFTWARE = f"herder/{__version__}"
