"""The pure decision (decide.py: the Dockerfile, the strategy, the refs and moving tags,
the notes) and the plan as data (plan.py, argv.py: the exact commands by phase)."""
