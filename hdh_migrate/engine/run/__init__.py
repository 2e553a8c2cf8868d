"""The run: the coordinator (``runner``), its real collaborators (``session``), dispatch
to executors, group commits, the circuit guard, verdicts and journaled object ids. The run
report (and the outcome model it renders) is ``hdh_migrate.reports.run_report``."""
