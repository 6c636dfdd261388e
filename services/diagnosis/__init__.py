"""From a paste to advice: `parsing` (paste → pull failure, with `_text` and `_patterns`),
`verdicts` (failure + registry state → verdict, typed facts and steps, with `_advice`), and the
address indexes `known_ips` and `service_tags` (both over `_intervals`)."""
