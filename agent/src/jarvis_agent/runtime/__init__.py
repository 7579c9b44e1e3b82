"""The agent at run time: the service (service.py) starts, stops and wires its parts: the tick
(tick.py), the window-change trigger, the user's pause (pause.py), the outbox and sync worker
(sync_link.py), the control channel's commands, live settings and glibc tuning (memory.py); beside
them the scheduler, the status board (state.py) and the one-instance lock."""
