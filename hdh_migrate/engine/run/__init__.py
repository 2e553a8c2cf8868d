"""The run: the coordinator (``runner``), its real collaborators (``session``), dispatch
to executors, group commits, the circuit guard, verdicts, journaled object ids and the
run report."""
