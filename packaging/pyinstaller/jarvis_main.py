"""Entry script of the `jarvis` bundle: the same `main` as the `jarvis` console script."""

from jarvis_agent.cli import main

if __name__ == "__main__":
    main()
