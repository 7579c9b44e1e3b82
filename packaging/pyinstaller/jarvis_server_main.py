"""Entry script of the `jarvis-server` bundle: the same `main` as the console script."""

from jarvis_server.cli import main

if __name__ == "__main__":
    main()
