"""Domain and Azure access for acr-firewall-bot. Never imports Slack."""
