"""Pure values and rules: addresses, registry state, pull failures, grants, policy, refusals.

No I/O here; everything that talks to Azure or Slack lives elsewhere.
"""
