"""One handler per job type, each a function of the job and, by keyword, exactly the
collaborators it uses; `bot.bus` finds them by the job's `kind` and gives them what they name."""
