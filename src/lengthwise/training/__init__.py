"""TRL glue: everything that touches the trainer lives here."""
