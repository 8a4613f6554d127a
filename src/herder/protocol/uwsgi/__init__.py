"""The uwsgi binary protocol (what nginx's `uwsgi_pass` speaks), parsed sans-I/O."""
