"""The classroom console: a running replay shown in browsers, and run from them.

``server.py`` serves the page (``static/``), the state of the replay
(``station.training.live.LiveView``) over HTTP and a WebSocket, and carries
the instructor's and the desk's orders to ``ReplayControl`` and the trainee
desk; ``protocol.py`` turns what a browser sends into typed messages.
docs/console.md shows the console in use.
"""

# Where a console listens unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT"]
