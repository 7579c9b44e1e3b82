"""`python -m jarvis_server` runs the command line."""

from jarvis_server.cli import main

main()
