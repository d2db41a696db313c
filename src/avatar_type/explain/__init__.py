"""Grad-CAM: maps of trained models, walls of them, and how much two models' maps overlap."""
