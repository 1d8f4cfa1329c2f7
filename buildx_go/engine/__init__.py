"""The only code that runs docker and buildx (docker.py), what the engine and its builders
can do (builder.py), what a failed command means (failures.py), how processes are
started and stopped (spawn.py, interrupt.py), and where cached facts live (stamps.py)."""
