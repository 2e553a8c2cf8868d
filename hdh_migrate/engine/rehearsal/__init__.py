"""``hdh-migrate rehearse PLAN``: any plan, production plans included, rehearsed end to end
against stand-in servers (docs/rehearse.md).

- ``derive``: the rehearsal plan (sources → a local Azurite, targets → a stand-in S3
  endpoint, keys → throwaway KEKs, hooks → a sandbox; waves, datasets, selections, verify
  modes, policy and gates kept);
- ``synthetic``: data shaped like each dataset (edge cases always, or an audit inventory);
- ``lifecycle``: the steps, validate → … → rollback (→ finalize), one result each;
- ``junit``: the results as JUnit XML and a Markdown summary.
"""
