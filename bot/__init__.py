"""Everything Slack for acr-firewall-bot: Bolt app, listeners, Block Kit builders, the CLI."""
