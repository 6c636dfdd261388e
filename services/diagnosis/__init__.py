"""From a paste to advice: `parsing` (paste → pull failure), `verdicts` (failure + registry state →
verdict, facts and steps), with the address indexes `known_ips` and `service_tags`."""
