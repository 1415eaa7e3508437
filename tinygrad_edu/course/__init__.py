"""The course's material, one module per thing the handouts use:

* ``runs``: one training run of the course's 784-H-10 sigmoid MLP (``RunConfig``, ``run_config``);
* ``sweeps``: the hyperparameter tables of ``tinygrad-edu sweep`` (``run_sweep``, ``SweepTable``);
* ``overfitting``: the same network on 2,000 images and on all of them, curves per epoch;
* ``single_neuron``: one sigmoid neuron telling a digit from the rest;
* ``plots``: the handouts' own figures (the overfitting study, the single neuron, own digit;
  general curves and grids are in ``viz/plots.py``);
* ``preprocess``: a photo of a handwritten digit made into a 28x28 MNIST input;
* ``jacobians``: the Jacobians and the backward pass of the course's 784-64-10 sigmoid MLP,
  derived by hand.
"""
