"""Loopback stand-ins for what cannot run on a laptop: ARM and Slack emulators, Azurite."""
