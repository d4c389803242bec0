"""HTTP: health, calendar feeds (issue 4); the JSON API and the dashboard come next (issue 5)."""
