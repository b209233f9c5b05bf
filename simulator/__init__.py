"""`regulars simulate`: a year of simulated guests through the real engine (issue 15)."""
