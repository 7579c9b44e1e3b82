"""`python -m jarvis_server` runs the command line."""

from jarvis_server.cli import main

# Guarded: the text worker's OCR process is spawned, and spawn imports the parent's main module.
if __name__ == "__main__":
    main()
