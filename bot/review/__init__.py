"""The ``/review`` command: its text parsed into a request, and one handler per subcommand."""
