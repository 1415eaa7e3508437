"""The course's material: the handouts' experiments, figures, own-digit preprocessing and the
by-hand Jacobians of the seeds' MLP."""
