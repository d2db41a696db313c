"""Ensembles of trained models: soft and weighted voting, subset selection, diversity."""
