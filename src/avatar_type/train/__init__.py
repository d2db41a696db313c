"""Training: data feeding, augmentation, imbalance handling, the loop, checkpoints, DDP."""
