"""The integrated report: metrics of every stage gathered, scored, ranked and written up."""
