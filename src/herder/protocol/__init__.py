"""Sans-I/O protocol layer: bytes in, events out; responses serialized to bytes.

Nothing here touches sockets, clocks, threads or logging. Every worker class drives the same
parsers, which is what makes them testable byte by byte.
"""
