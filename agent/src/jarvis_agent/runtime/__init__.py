"""The agent at run time: the service that wires the engine to the scheduler, the sync worker,
the control channel and the user's pause; its state, and the one-instance lock."""
