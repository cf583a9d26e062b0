"""Use cases shared by the JSON API and the console: each takes its inputs and the resources it needs."""
